import { type FormEvent, useState } from "react";
import { api, describeProblem, problemOf, type User } from "../api.js";
import { Link, navigate } from "../router.js";
import { useSession } from "../session.js";
import { Alert, Card, Field } from "../ui.js";

export function homeOf(user: User): string {
  if (user.mustChangePassword) return "/change-password";
  return user.role === "admin" ? "/admin" : "/family";
}

export function Login() {
  const { setUser } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = (await api.post<{ user: User }>("/api/auth/login", { email, password })).data;
      setUser(user);
      navigate(homeOf(user));
    } catch (err) {
      setError(describeProblem(problemOf(err)));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Card title="Sign in">
      <form onSubmit={submit} id="login-form">
        <Field label="E-mail">
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </Field>
        <Field label="Password">
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        {error && <Alert kind="error">{error}</Alert>}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <p className="muted">
          <Link to="/forgot-password">Forgot your password?</Link>
        </p>
      </form>
    </Card>
  );
}

export function ChangePassword() {
  const { user, setUser } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (user === null) return <Login />;
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api.post<{ user: User }>("/api/auth/change-password", {
        currentPassword: current,
        newPassword: next,
      });
      setUser(r.data.user);
      navigate(homeOf(r.data.user));
    } catch (err) {
      setError(describeProblem(problemOf(err)));
    }
  }
  return (
    <Card title="Choose your password">
      {user?.mustChangePassword && (
        <Alert kind="info">You signed in with a temporary password. Choose your own to continue.</Alert>
      )}
      <form onSubmit={submit} id="change-password-form">
        <Field label="Current (temporary) password">
          <input
            type="password"
            name="currentPassword"
            autoComplete="current-password"
            required
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        </Field>
        <Field label="New password (12 characters or more)">
          <input
            type="password"
            name="newPassword"
            autoComplete="new-password"
            required
            minLength={12}
            value={next}
            onChange={(e) => setNext(e.target.value)}
          />
        </Field>
        {error && <Alert kind="error">{error}</Alert>}
        <button type="submit">Save my password</button>
      </form>
    </Card>
  );
}
