import { useCallback, useEffect, useState } from "react";
import { api, describeProblem, money, plainText, problemOf } from "../api.js";
import { Alert, Card } from "../ui.js";

interface Booking {
  id: string;
  student_name: string;
  instrument: string;
  email: string;
  notes: string;
  status: string;
  created_at: string;
  teacher_name: string | null;
  contacts: { kind: string; name: string; email: string | null; phone: string }[];
}
interface Teacher {
  id: string;
  name: string;
}
interface Payment {
  id: string;
  student_name: string;
  amount_cents: number;
  platform_fee_cents: number;
  currency: string;
  status: string;
  created_at: string;
  paid_at: string | null;
}
interface Family {
  id: string;
  name: string;
  students: { name: string; instrument: string; teacher_name: string | null }[];
  contacts: { kind: string; name: string; email: string | null; phone: string }[];
}

type Tab = "pending" | "all" | "payments" | "families";

/** The school office: pending Meet & Greets (approve + assign a teacher), all requests, payments, families. */
export function Admin() {
  const [tab, setTab] = useState<Tab>("pending");
  const [bookings, setBookings] = useState<Booking[]>([]);
  const [teachers, setTeachers] = useState<Teacher[]>([]);
  const [payments, setPayments] = useState<Payment[]>([]);
  const [families, setFamilies] = useState<Family[]>([]);
  const [choice, setChoice] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);

  const load = useCallback(async () => {
    try {
      if (tab === "pending" || tab === "all") {
        const [b, t] = await Promise.all([
          api.get<Booking[]>("/api/admin/meet-and-greets", {
            params: tab === "pending" ? { status: "pending_approval" } : {},
          }),
          api.get<Teacher[]>("/api/admin/teachers"),
        ]);
        setBookings(b.data);
        setTeachers(t.data);
      } else if (tab === "payments") setPayments((await api.get<Payment[]>("/api/admin/payments")).data);
      else setFamilies((await api.get<Family[]>("/api/admin/families")).data);
    } catch (e) {
      setMessage({ kind: "error", text: describeProblem(problemOf(e)) });
    }
  }, [tab]);

  useEffect(() => {
    void load();
  }, [load]);

  async function approve(booking: Booking) {
    const teacherId = choice[booking.id] ?? teachers[0]?.id;
    if (!teacherId) return;
    try {
      await api.post(`/api/admin/meet-and-greets/${booking.id}/approve`, { teacherId });
      setMessage({
        kind: "ok",
        text: `Approved ${booking.student_name}; the family received the registration link.`,
      });
      await load();
    } catch (e) {
      setMessage({ kind: "error", text: describeProblem(problemOf(e)) });
    }
  }

  return (
    <Card title="School office">
      <nav className="tabs">
        {(["pending", "all", "payments", "families"] as const).map((t) => (
          <button
            key={t}
            type="button"
            className={t === tab ? "active" : ""}
            onClick={() => setTab(t)}
            data-tab={t}
          >
            {
              {
                pending: "Pending Meet & Greets",
                all: "All requests",
                payments: "Payments",
                families: "Families",
              }[t]
            }
          </button>
        ))}
      </nav>
      {message && <Alert kind={message.kind}>{message.text}</Alert>}
      {(tab === "pending" || tab === "all") && (
        <table>
          <thead>
            <tr>
              <th>Student</th>
              <th>Contacts</th>
              <th>Notes</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {bookings.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  Nothing here.
                </td>
              </tr>
            )}
            {bookings.map((b) => (
              <tr key={b.id} data-booking={b.id}>
                <td>
                  <strong>{b.student_name}</strong>
                  <br />
                  {b.instrument}
                </td>
                <td>
                  {b.contacts.map((c) => (
                    <div key={c.kind}>
                      {c.kind}: {c.name} {c.email ? `<${c.email}>` : ""} {c.phone}
                    </div>
                  ))}
                </td>
                <td className="notes">{plainText(b.notes)}</td>
                <td>
                  {b.status.replaceAll("_", " ")}
                  {b.teacher_name ? ` (${b.teacher_name})` : ""}
                </td>
                <td>
                  {b.status === "pending_approval" && (
                    <span className="approve">
                      <select
                        aria-label="Teacher"
                        value={choice[b.id] ?? teachers[0]?.id ?? ""}
                        onChange={(e) => setChoice((c) => ({ ...c, [b.id]: e.target.value }))}
                      >
                        {teachers.map((t) => (
                          <option key={t.id} value={t.id}>
                            {t.name}
                          </option>
                        ))}
                      </select>
                      <button type="button" onClick={() => approve(b)}>
                        Approve
                      </button>
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tab === "payments" && (
        <table>
          <thead>
            <tr>
              <th>Student</th>
              <th>Amount</th>
              <th>Platform fee</th>
              <th>Status</th>
              <th>Paid</th>
            </tr>
          </thead>
          <tbody>
            {payments.map((p) => (
              <tr key={p.id}>
                <td>{p.student_name}</td>
                <td>{money(p.amount_cents, p.currency)}</td>
                <td>{money(p.platform_fee_cents, p.currency)}</td>
                <td>{p.status}</td>
                <td>{p.paid_at ? new Date(p.paid_at).toLocaleString() : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tab === "families" && <FamilyList families={families} />}
    </Card>
  );
}

export function FamilyList({ families }: { families: Family[] }) {
  if (families.length === 0) return <p className="muted">No families yet.</p>;
  return (
    <div className="families">
      {families.map((f) => (
        <article key={f.id} className="family">
          <h2>{f.name}</h2>
          <ul>
            {f.students.map((s) => (
              <li key={s.name}>
                {s.name} — {s.instrument}
                {s.teacher_name ? ` with ${s.teacher_name}` : ""}
              </li>
            ))}
          </ul>
          <ul className="muted">
            {f.contacts.map((c) => (
              <li key={c.kind}>
                {c.kind}: {c.name} {c.email ?? ""} {c.phone}
              </li>
            ))}
          </ul>
        </article>
      ))}
    </div>
  );
}

/** A parent's own family. */
export function MyFamily() {
  const [family, setFamily] = useState<Family | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .get<Family | null>("/api/family")
      .then((r) => setFamily(r.data))
      .catch((e) => setError(describeProblem(problemOf(e))));
  }, []);
  return (
    <Card title="My family">
      {error && <Alert kind="error">{error}</Alert>}
      {family === null && <p className="muted">No family registered yet.</p>}
      {family && <FamilyList families={[family]} />}
    </Card>
  );
}
