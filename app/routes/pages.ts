import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import express, { Router } from "express";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { route } from "./util.js";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON for an inline script: `<`, U+2028/9 escaped so no string can close the tag. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * Serves the built SPA: hashed assets with a long cache, and index.html for every page route with
 * the request's CSP nonce on each script tag and a nonced boot script carrying the CSRF token
 * (saves the client its first token request).
 */
export function spaRoutes(distDir: string): Router {
  const r = Router();
  const indexPath = join(distDir, "index.html");
  if (!existsSync(indexPath)) throw new Error(`the client is not built: ${indexPath} is missing`);
  const template = readFileSync(indexPath, "utf8");
  r.use("/assets", express.static(join(distDir, "assets"), { immutable: true, maxAge: "1y", index: false }));
  r.get(/^\/(?!api\/|webhooks\/|assets\/|outbox|livez|readyz|csrf-token).*/, (_req, res) => {
    const locals = res.locals.bulwark ?? {};
    const nonce = String(locals.cspNonce ?? "");
    const boot = `<script nonce="${nonce}">window.__BOOT__=${scriptJson({ csrfToken: locals.csrfToken ?? null })}</script>`;
    const html = template
      .replaceAll("<script ", `<script nonce="${nonce}" `)
      .replace("</head>", `${boot}</head>`);
    res.set("content-type", "text/html; charset=utf-8").set("cache-control", "no-store").send(html);
  });
  return r;
}

/** The development outbox: every queued e-mail, newest first, with its links clickable. */
export function outboxRoutes(db: Kysely<Database>): Router {
  const r = Router();
  r.get(
    "/outbox",
    route(async (_req, res) => {
      const rows = await db
        .selectFrom("email_outbox as o")
        .innerJoin("schools as s", "s.id", "o.school_id")
        .select(["o.id", "o.to_address", "o.subject", "o.text_body", "o.created_at", "s.name as school"])
        .orderBy("o.created_at", "desc")
        .limit(100)
        .execute();
      const items = rows
        .map((m) => {
          const body = escapeHtml(m.text_body).replace(
            /https?:\/\/[^\s<]+/g,
            (url) => `<a href="${url}">${url}</a>`,
          );
          return `<article class="mail" data-to="${escapeHtml(m.to_address)}">
<header><strong>${escapeHtml(m.subject)}</strong><br><small>to ${escapeHtml(m.to_address)} · ${escapeHtml(m.school)} · ${m.created_at.toISOString()}</small></header>
<pre>${body}</pre></article>`;
        })
        .join("\n");
      res
        .set("content-type", "text/html; charset=utf-8")
        .set("cache-control", "no-store")
        .send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Outbox (development)</title>
<style>body{font-family:system-ui,sans-serif;max-width:760px;margin:24px auto;padding:0 16px;color:#1f2937}
.mail{border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:12px 0}
pre{white-space:pre-wrap;font-family:inherit}a{color:#2563eb}</style></head>
<body><h1>Outbox</h1><p>E-mails the app would have sent (no SMTP_URL configured). Newest first.</p>
${items || "<p>No messages yet.</p>"}</body></html>`);
    }),
  );
  return r;
}
