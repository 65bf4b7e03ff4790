/**
 * Decodes the `application/x-www-form-urlencoded` bodies the `stripe` SDK sends, with its bracket
 * notation for nested objects and arrays: `line_items[0][price_data][currency]=eur`.
 */

export type FormValue = string | FormObject | FormValue[];
export interface FormObject {
  [key: string]: FormValue;
}

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

function splitKey(key: string): string[] {
  const open = key.indexOf("[");
  if (open === -1) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  re.lastIndex = open;
  for (let m = re.exec(key); m !== null; m = re.exec(key)) parts.push(m[1] ?? "");
  return parts;
}

/** Parses a Stripe-style form body; throws on names that could pollute prototypes. */
export function parseStripeForm(body: string): FormObject {
  const root: FormObject = Object.create(null);
  for (const [key, value] of new URLSearchParams(body)) {
    const path = splitKey(key);
    if (path.some((p) => FORBIDDEN.has(p))) throw new Error(`forbidden parameter name: ${key}`);
    let node: FormObject | FormValue[] = root;
    for (let i = 0; i < path.length; i++) {
      const part = path[i] as string;
      const last = i === path.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(path[i + 1] as string);
      const slot = Array.isArray(node) ? Number(part) : part;
      const container = node as Record<string | number, FormValue>;
      if (last) {
        container[slot] = value;
      } else {
        if (container[slot] === undefined || typeof container[slot] === "string") {
          container[slot] = nextIsIndex ? [] : Object.create(null);
        }
        node = container[slot] as FormObject | FormValue[];
      }
    }
  }
  return root;
}
