/**
 * Reading one field out of an HTML form body, for CSRF tokens submitted by plain `<form>` posts.
 * Only the two encodings a form can carry a named field in are read: urlencoded and multipart.
 */

export type FormEncoding =
  | { readonly kind: "urlencoded" }
  | { readonly kind: "multipart"; readonly boundary: string };

const URLENCODED: FormEncoding = Object.freeze({ kind: "urlencoded" });
const BOUNDARY = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i;

/** The form encoding named by a `Content-Type` header, or `undefined` for anything else. */
export function formEncoding(contentType: string | undefined): FormEncoding | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(";");
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return URLENCODED;
  if (type !== "multipart/form-data") return undefined;
  const match = BOUNDARY.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  return boundary === undefined ? undefined : { kind: "multipart", boundary };
}

/** The first value of `field` in an encoded form body, or `undefined`. */
export function readFormField(body: Uint8Array, encoding: FormEncoding, field: string): string | undefined {
  if (encoding.kind === "urlencoded") {
    return new URLSearchParams(new TextDecoder().decode(body)).get(field) ?? undefined;
  }
  return readMultipartField(latin1(body), encoding.boundary, field);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

const NAME = /(?:^|;)\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i;
const FILENAME = /;\s*filename\*?\s*=/i;

function isField(headers: string, field: string): boolean {
  for (const line of headers.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== "content-disposition") continue;
    const value = line.slice(colon + 1);
    if (FILENAME.test(value)) return false;
    const match = NAME.exec(value.slice(value.indexOf(";")));
    return (match?.[1] ?? match?.[2]) === field;
  }
  return false;
}

/** RFC 7578 parts: `--boundary CRLF headers CRLF CRLF value CRLF --boundary … --boundary--`. */
function readMultipartField(text: string, boundary: string, field: string): string | undefined {
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter);
  while (at !== -1) {
    const after = at + delimiter.length;
    if (text.startsWith("--", after)) return undefined;
    const lineEnd = text.indexOf("\r\n", after);
    if (lineEnd === -1) return undefined;
    const headersEnd = text.indexOf("\r\n\r\n", lineEnd);
    if (headersEnd === -1) return undefined;
    const next = text.indexOf(`\r\n${delimiter}`, headersEnd + 4);
    if (next === -1) return undefined;
    if (isField(text.slice(lineEnd + 2, headersEnd), field)) return text.slice(headersEnd + 4, next);
    at = next + 2;
  }
  return undefined;
}
