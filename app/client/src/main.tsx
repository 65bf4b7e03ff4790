import { type ReactNode, StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { api, type School } from "./api.js";
import { ChangePassword, homeOf, Login } from "./pages/Account.js";
import { Admin, MyFamily } from "./pages/Admin.js";
import { Booking } from "./pages/Booking.js";
import { ForgotPassword, Register, ResetPassword, VerifyEmail } from "./pages/TokenPages.js";
import { Link, navigate, RouterProvider, useLocation } from "./router.js";
import { SessionProvider, useSession } from "./session.js";
import "./styles.css";

function Home() {
  const [schools, setSchools] = useState<School[]>([]);
  useEffect(() => {
    api.get<School[]>("/api/schools").then((r) => setSchools(r.data));
  }, []);
  return (
    <section className="card">
      <h1>Meet &amp; Greet</h1>
      <p>Choose a school to book a first meeting with a teacher.</p>
      <ul className="schools">
        {schools.map((s) => (
          <li key={s.slug}>
            <Link to={`/book/${s.slug}`}>{s.name}</Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Pages behind sign-in: send visitors to the login page, and temporary passwords to the change form. */
function Protected({ forRole: role, children }: { forRole: "admin" | "parent"; children: ReactNode }) {
  const { user } = useSession();
  useEffect(() => {
    if (user === null) navigate("/login", true);
    else if (user && (user.mustChangePassword || user.role !== role)) navigate(homeOf(user), true);
  }, [user, role]);
  if (!user || user.mustChangePassword || user.role !== role) return <p>Loading…</p>;
  return <>{children}</>;
}

function Page() {
  const { pathname } = useLocation();
  const book = /^\/book\/([a-z0-9-]+)$/.exec(pathname);
  if (book) return <Booking slug={book[1] as string} />;
  switch (pathname) {
    case "/verify-email":
      return <VerifyEmail />;
    case "/register":
      return <Register />;
    case "/login":
      return <Login />;
    case "/change-password":
      return <ChangePassword />;
    case "/forgot-password":
      return <ForgotPassword />;
    case "/reset-password":
      return <ResetPassword />;
    case "/admin":
      return (
        <Protected forRole="admin">
          <Admin />
        </Protected>
      );
    case "/family":
      return (
        <Protected forRole="parent">
          <MyFamily />
        </Protected>
      );
    default:
      return <Home />;
  }
}

function Header() {
  const { user, setUser } = useSession();
  async function logout() {
    await api.post("/api/auth/logout").catch(() => undefined);
    setUser(null);
    navigate("/login");
  }
  return (
    <header className="top">
      <Link to="/" className="brand">
        ♪ Music School
      </Link>
      <nav>
        {user ? (
          <>
            <span className="muted">
              {user.name} · {user.school.name}
            </span>
            <Link to={homeOf(user)}>{user.role === "admin" ? "Office" : "My family"}</Link>
            <button type="button" className="link" onClick={logout} id="logout">
              Sign out
            </button>
          </>
        ) : (
          <Link to="/login">Sign in</Link>
        )}
      </nav>
    </header>
  );
}

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <RouterProvider>
      <SessionProvider>
        <Header />
        <main>
          <Page />
        </main>
      </SessionProvider>
    </RouterProvider>
  </StrictMode>,
);
