import { type FormEvent, useEffect, useState } from "react";
import { api, describeProblem, money, problemOf, type School } from "../api.js";
import { Alert, Card, Field } from "../ui.js";

const EMPTY = {
  studentName: "",
  instrument: "piano",
  primaryName: "",
  primaryEmail: "",
  primaryPhone: "",
  secondaryName: "",
  secondaryEmail: "",
  secondaryPhone: "",
  emergencyName: "",
  emergencyPhone: "",
  notes: "",
};

/** The public Meet & Greet booking form of one school. */
export function Booking({ slug }: { slug: string }) {
  const [school, setSchool] = useState<School | null>(null);
  const [form, setForm] = useState(EMPTY);
  const [state, setState] = useState<
    { kind: "idle" | "sending" | "sent" } | { kind: "error"; message: string }
  >({
    kind: "idle",
  });

  useEffect(() => {
    api
      .get<School>(`/api/schools/${encodeURIComponent(slug)}`)
      .then((r) => setSchool(r.data))
      .catch((e) => setState({ kind: "error", message: describeProblem(problemOf(e)) }));
  }, [slug]);

  const set = (key: keyof typeof EMPTY) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setState({ kind: "sending" });
    try {
      await api.post(`/api/schools/${encodeURIComponent(slug)}/meet-and-greets`, {
        studentName: form.studentName,
        instrument: form.instrument,
        contacts: {
          primary: { name: form.primaryName, email: form.primaryEmail, phone: form.primaryPhone },
          secondary: {
            name: form.secondaryName,
            phone: form.secondaryPhone,
            ...(form.secondaryEmail ? { email: form.secondaryEmail } : {}),
          },
          emergency: { name: form.emergencyName, phone: form.emergencyPhone },
        },
        notes: form.notes,
      });
      setState({ kind: "sent" });
    } catch (error) {
      setState({ kind: "error", message: describeProblem(problemOf(error)) });
    }
  }

  if (state.kind === "sent") {
    return (
      <Card title="Thank you!">
        <Alert kind="ok">
          We received your request. Please confirm it with the link we sent by e-mail (valid for 24 hours).
        </Alert>
      </Card>
    );
  }

  return (
    <Card title={school ? `Book a Meet & Greet at ${school.name}` : "Book a Meet & Greet"}>
      {school && (
        <p className="muted">
          Meet a teacher, try the instrument. If it is a match, registration costs{" "}
          {money(school.feeCents, school.currency)}.
        </p>
      )}
      <form onSubmit={submit} id="booking-form">
        <fieldset>
          <legend>Student</legend>
          <Field label="Student name">
            <input
              name="studentName"
              required
              maxLength={100}
              value={form.studentName}
              onChange={set("studentName")}
            />
          </Field>
          <Field label="Instrument">
            <select name="instrument" value={form.instrument} onChange={set("instrument")}>
              {(school?.instruments ?? ["piano"]).map((i) => (
                <option key={i} value={i}>
                  {i}
                </option>
              ))}
            </select>
          </Field>
        </fieldset>
        <fieldset>
          <legend>Contact 1 (we write to this address)</legend>
          <Field label="Name">
            <input name="primaryName" required value={form.primaryName} onChange={set("primaryName")} />
          </Field>
          <Field label="E-mail">
            <input
              name="primaryEmail"
              type="email"
              required
              value={form.primaryEmail}
              onChange={set("primaryEmail")}
            />
          </Field>
          <Field label="Phone">
            <input
              name="primaryPhone"
              type="tel"
              required
              value={form.primaryPhone}
              onChange={set("primaryPhone")}
            />
          </Field>
        </fieldset>
        <fieldset>
          <legend>Contact 2</legend>
          <Field label="Name">
            <input name="secondaryName" required value={form.secondaryName} onChange={set("secondaryName")} />
          </Field>
          <Field label="E-mail (optional)">
            <input
              name="secondaryEmail"
              type="email"
              value={form.secondaryEmail}
              onChange={set("secondaryEmail")}
            />
          </Field>
          <Field label="Phone">
            <input
              name="secondaryPhone"
              type="tel"
              required
              value={form.secondaryPhone}
              onChange={set("secondaryPhone")}
            />
          </Field>
        </fieldset>
        <fieldset>
          <legend>Emergency contact</legend>
          <Field label="Name">
            <input name="emergencyName" required value={form.emergencyName} onChange={set("emergencyName")} />
          </Field>
          <Field label="Phone">
            <input
              name="emergencyPhone"
              type="tel"
              required
              value={form.emergencyPhone}
              onChange={set("emergencyPhone")}
            />
          </Field>
        </fieldset>
        <Field label="Notes (plain text)">
          <textarea name="notes" maxLength={2000} rows={3} value={form.notes} onChange={set("notes")} />
        </Field>
        {state.kind === "error" && <Alert kind="error">{state.message}</Alert>}
        <button type="submit" disabled={state.kind === "sending"}>
          Request a Meet &amp; Greet
        </button>
      </form>
    </Card>
  );
}
