import { Router } from "express";
import { protect } from "../../src/adapters/express/index.js";
import { jsonBody } from "../../src/hygiene/index.js";
import type { AppContext } from "../context.js";
import { withSchool } from "../db/tenant.js";
import { problems } from "../http-problem.js";
import { approveBooking, listMeetAndGreets, listTeachers } from "../services/bookings.js";
import { approveInput, parse, uuidParam } from "../services/input.js";
import { bodyOf, requireUser, route, userOf } from "./util.js";

const STATUSES = new Set(["pending_verification", "pending_approval", "approved", "registered", "rejected"]);

/**
 * The school's back office. Every query runs in the signed-in admin's school transaction, so row-level
 * security — not a WHERE clause someone could forget — keeps other schools' data out.
 */
export function adminRoutes(ctx: AppContext): Router {
  const r = Router();
  const admin = requireUser(ctx, { roles: ["admin"] });
  const json = jsonBody({ maxBytes: 4 * 1024 });

  r.get(
    "/api/admin/meet-and-greets",
    admin,
    route(async (req, res) => {
      const status = typeof req.query.status === "string" ? req.query.status : undefined;
      if (status !== undefined && !STATUSES.has(status)) {
        throw problems.invalidInput([{ path: "status", message: "unknown status" }]);
      }
      res.json(await listMeetAndGreets(ctx, userOf(res).schoolId, status));
    }),
  );

  r.get(
    "/api/admin/teachers",
    admin,
    route(async (_req, res) => {
      res.json(await listTeachers(ctx, userOf(res).schoolId));
    }),
  );

  r.post(
    "/api/admin/meet-and-greets/:id/approve",
    admin,
    protect(json),
    route(async (req, res) => {
      const id = parse(uuidParam, req.params.id);
      const input = parse(approveInput, bodyOf(res));
      await approveBooking(ctx, userOf(res).schoolId, id, input.teacherId);
      res.json({ status: "approved" });
    }),
  );

  r.get(
    "/api/admin/payments",
    admin,
    route(async (_req, res) => {
      const rows = await withSchool(ctx.db, userOf(res).schoolId, (tx) =>
        tx
          .selectFrom("payments as p")
          .innerJoin("meet_and_greets as m", "m.id", "p.meet_and_greet_id")
          .select([
            "p.id",
            "p.checkout_session_id",
            "p.amount_cents",
            "p.platform_fee_cents",
            "p.currency",
            "p.status",
            "p.created_at",
            "p.paid_at",
            "m.student_name",
          ])
          .orderBy("p.created_at", "desc")
          .limit(200)
          .execute(),
      );
      res.json(rows);
    }),
  );

  r.get(
    "/api/admin/families",
    admin,
    route(async (_req, res) => {
      res.json(await familiesOf(ctx, userOf(res).schoolId));
    }),
  );

  /** A parent's own family (students with their teacher, contacts). */
  r.get(
    "/api/family",
    requireUser(ctx, { roles: ["parent"] }),
    route(async (_req, res) => {
      const user = userOf(res);
      const families = await familiesOf(ctx, user.schoolId, user.id);
      res.json(families[0] ?? null);
    }),
  );

  return r;
}

async function familiesOf(ctx: AppContext, schoolId: string, parentUserId?: string) {
  return withSchool(ctx.db, schoolId, async (tx) => {
    let families = tx
      .selectFrom("families as f")
      .select(["f.id", "f.name", "f.created_at"])
      .orderBy("f.created_at", "desc");
    if (parentUserId) {
      families = families.where("f.id", "=", (eb) =>
        eb.selectFrom("users").select("family_id").where("id", "=", parentUserId),
      );
    }
    const list = await families.limit(200).execute();
    if (list.length === 0) return [];
    const ids = list.map((f) => f.id);
    const students = await tx
      .selectFrom("students as s")
      .leftJoin("users as t", "t.id", "s.teacher_id")
      .select(["s.family_id", "s.name", "s.instrument", "t.name as teacher_name"])
      .where("s.family_id", "in", ids)
      .execute();
    const contacts = await tx
      .selectFrom("contacts")
      .select(["family_id", "kind", "name", "email", "phone"])
      .where("family_id", "in", ids)
      .execute();
    return list.map((f) => ({
      ...f,
      students: students.filter((s) => s.family_id === f.id),
      contacts: contacts.filter((c) => c.family_id === f.id),
    }));
  });
}
