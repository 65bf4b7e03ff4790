import { type FormEvent, useEffect, useRef, useState } from "react";
import { api, describeProblem, money, problemOf } from "../api.js";
import { Link, useLocation } from "../router.js";
import { Alert, Card, Field } from "../ui.js";

function linkParams(location: URL) {
  return {
    school: location.searchParams.get("school") ?? "",
    token: location.searchParams.get("token") ?? "",
  };
}

/** The e-mail verification link lands here; the page (not the GET) consumes the token, so mail scanners cannot. */
export function VerifyEmail() {
  const location = useLocation();
  const [state, setState] = useState<"working" | "done" | string>("working");
  const sent = useRef(false);
  useEffect(() => {
    if (sent.current) return;
    sent.current = true;
    api
      .post("/api/meet-and-greets/verify", linkParams(location))
      .then(() => setState("done"))
      .catch((e) => setState(describeProblem(problemOf(e))));
  }, [location]);
  return (
    <Card title="Confirm your e-mail">
      {state === "working" && <p>Confirming…</p>}
      {state === "done" && (
        <Alert kind="ok">
          Your e-mail is confirmed. The school will contact you to arrange the Meet &amp; Greet.
        </Alert>
      )}
      {state !== "working" && state !== "done" && <Alert kind="error">{state}</Alert>}
    </Card>
  );
}

interface Summary {
  school: { name: string; slug: string };
  studentName: string;
  instrument: string;
  amountCents: number;
  currency: string;
  state: "awaiting_payment" | "payment_pending" | "registered";
}

/** The registration link: what is due, and the button that starts (or resumes) Stripe Checkout. */
export function Register() {
  const location = useLocation();
  const { school, token } = linkParams(location);
  const returnedPaid = location.searchParams.get("paid") === "1";
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per page load: a double click or a retried request replays the first answer.
  const idempotencyKey = useRef(crypto.randomUUID());

  useEffect(() => {
    let stop = false;
    let polls = 0;
    const load = async () => {
      try {
        const s = (await api.post<Summary>("/api/registration", { school, token })).data;
        if (stop) return;
        setSummary(s);
        // Back from Checkout: the webhook may land a moment after the redirect.
        if (returnedPaid && s.state !== "registered" && polls++ < 60) setTimeout(load, 1000);
      } catch (e) {
        if (!stop) setError(describeProblem(problemOf(e)));
      }
    };
    void load();
    return () => {
      stop = true;
    };
  }, [school, token, returnedPaid]);

  async function pay() {
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ url: string }>(
        "/api/registration/checkout",
        { school, token },
        {
          headers: { "idempotency-key": idempotencyKey.current },
        },
      );
      window.location.assign(r.data.url);
    } catch (e) {
      setError(describeProblem(problemOf(e)));
      setBusy(false);
    }
  }

  return (
    <Card title="Complete the registration">
      {summary && (
        <>
          <p>
            <strong>{summary.studentName}</strong> — {summary.instrument} at {summary.school.name}
          </p>
          <p className="amount">Registration fee: {money(summary.amountCents, summary.currency)}</p>
          {summary.state === "registered" ? (
            <Alert kind="ok">
              Payment received — the registration is complete. We sent your sign-in details by e-mail.{" "}
              <Link to="/login">Sign in</Link>
            </Alert>
          ) : returnedPaid ? (
            <Alert kind="info">Payment received, finishing the registration…</Alert>
          ) : (
            <button type="button" id="pay" onClick={pay} disabled={busy}>
              {summary.state === "payment_pending" ? "Continue to payment" : "Pay with Stripe"}
            </button>
          )}
        </>
      )}
      {!summary && !error && <p>Loading…</p>}
      {error && <Alert kind="error">{error}</Alert>}
    </Card>
  );
}

/** Asks for a password-reset link; the answer is the same for every address. */
export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [state, setState] = useState<"idle" | "sent" | string>("idle");
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await api.post("/api/auth/password-reset", { email });
      setState("sent");
    } catch (error) {
      setState(describeProblem(problemOf(error)));
    }
  }
  return (
    <Card title="Forgot your password?">
      {state === "sent" ? (
        <Alert kind="ok">If an account uses this address, we sent it a link to choose a new password.</Alert>
      ) : (
        <form onSubmit={submit}>
          <Field label="E-mail">
            <input
              type="email"
              name="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </Field>
          {state !== "idle" && <Alert kind="error">{state}</Alert>}
          <button type="submit">Send the link</button>
        </form>
      )}
    </Card>
  );
}

export function ResetPassword() {
  const location = useLocation();
  const [password, setPassword] = useState("");
  const [state, setState] = useState<"idle" | "done" | string>("idle");
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await api.post("/api/auth/password-reset/complete", { ...linkParams(location), newPassword: password });
      setState("done");
    } catch (error) {
      setState(describeProblem(problemOf(error)));
    }
  }
  return (
    <Card title="Choose a new password">
      {state === "done" ? (
        <Alert kind="ok">
          Your password is changed. <Link to="/login">Sign in</Link>
        </Alert>
      ) : (
        <form onSubmit={submit}>
          <Field label="New password (12 characters or more)">
            <input
              type="password"
              name="newPassword"
              autoComplete="new-password"
              required
              minLength={12}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
          {state !== "idle" && <Alert kind="error">{state}</Alert>}
          <button type="submit">Save</button>
        </form>
      )}
    </Card>
  );
}
