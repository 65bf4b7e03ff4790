import axios, { type AxiosError } from "axios";
import { csrfAxios } from "bulwark/csrf/client";

declare global {
  interface Window {
    __BOOT__?: { csrfToken: string | null };
  }
}

/**
 * The one HTTP client of the SPA: axios with bulwark's CSRF interceptor, which adds the token to
 * every unsafe request to this origin (seeded from the page, refreshed once on a CSRF refusal).
 */
export const api = csrfAxios(axios.create({ headers: { accept: "application/json" } }), {
  tokenUrl: "/csrf-token",
  ...(window.__BOOT__?.csrfToken ? { initialToken: window.__BOOT__.csrfToken } : {}),
});

export interface Problem {
  status: number;
  code: string;
  title: string;
  retryAfterSeconds?: number;
  issues?: { path: string; message: string }[];
}

/** The server's problem+json for a failed request, or a generic network problem. */
export function problemOf(error: unknown): Problem {
  const e = error as AxiosError<Partial<Problem>>;
  const data = e.response?.data;
  const retry = Number(e.response?.headers?.["retry-after"]);
  return {
    status: e.response?.status ?? 0,
    code: data?.code ?? "ERR_NETWORK",
    title: data?.title ?? "The server could not be reached",
    ...(Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {}),
    ...(data?.issues ? { issues: data.issues } : {}),
  };
}

export function describeProblem(p: Problem): string {
  if (p.code === "ERR_RATELIMIT_EXCEEDED" || p.code === "ERR_LOGIN_LOCKED") {
    const minutes = p.retryAfterSeconds ? Math.ceil(p.retryAfterSeconds / 60) : undefined;
    return `${p.title}. Try again${minutes ? ` in ${minutes} minute${minutes === 1 ? "" : "s"}` : " later"}.`;
  }
  if (p.issues?.length) return `${p.title}: ${p.issues.map((i) => `${i.path} ${i.message}`).join("; ")}`;
  return p.title;
}

export interface User {
  id: string;
  name: string;
  email: string;
  role: "admin" | "teacher" | "parent" | "student";
  mustChangePassword: boolean;
  school: { slug: string; name: string };
}

export interface School {
  slug: string;
  name: string;
  feeCents: number;
  currency: string;
  instruments?: string[];
}

export function money(cents: number, currency: string): string {
  return `${currency.toUpperCase()} ${(cents / 100).toFixed(2)}`;
}

/** Decodes the entities left in sanitised plain text, for display as text (never as HTML). */
export function plainText(sanitised: string): string {
  return sanitised
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}
