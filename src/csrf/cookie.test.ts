import { describe, expect, it } from "vitest";
import { newSessionId, readCookie, readSessionId, serializeCookie, signSessionId } from "./cookie.js";
import { deriveKeys } from "./token.js";

const keys = deriveKeys([new TextEncoder().encode("a-secret-of-at-least-thirty-two-bytes!!")], "t");
const otherKeys = deriveKeys([new TextEncoder().encode("another-secret-of-at-least-32-bytes!!!")], "t");

describe("anonymous session cookie", () => {
  it("round-trips a signed session id and refuses another key's signature", () => {
    const id = newSessionId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const value = signSessionId(keys, id);
    expect(readSessionId(keys, value)).toBe(id);
    expect(readSessionId(otherKeys, value)).toBeUndefined();
    expect(readSessionId([...otherKeys, ...keys], value)).toBe(id);
  });

  it("refuses a changed id, a changed signature, and malformed values", () => {
    const id = newSessionId();
    const value = signSessionId(keys, id);
    const swap = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    for (let i = 0; i < value.length; i++) {
      if (i === 24) continue;
      expect(readSessionId(keys, swap(value, i))).toBeUndefined();
    }
    for (const bad of ["", ".", `${id}.`, `${id}:${value.slice(25)}`, `${value}x`, value.replace(/./, "!")]) {
      expect(readSessionId(keys, bad)).toBeUndefined();
    }
  });

  it("reads the first cookie of a name and nothing that only ends with it", () => {
    expect(readCookie("a=1; __Host-c=two; __Host-c=three", "__Host-c")).toBe("two");
    expect(readCookie("x__Host-c=1;__Host-c=2", "__Host-c")).toBe("2");
    expect(readCookie("a=1", "__Host-c")).toBeUndefined();
    expect(readCookie(undefined, "__Host-c")).toBeUndefined();
    expect(readCookie("novalue; __Host-c= v ", "__Host-c")).toBe("v");
  });

  it("serializes without a Domain, with Path=/ and HttpOnly", () => {
    expect(
      serializeCookie("__Host-c", "v", { secure: true, sameSite: "Lax", maxAgeSeconds: undefined }),
    ).toBe("__Host-c=v; Path=/; HttpOnly; SameSite=Lax; Secure");
    expect(serializeCookie("c", "v", { secure: false, sameSite: "Strict", maxAgeSeconds: 60 })).toBe(
      "c=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60",
    );
  });
});
