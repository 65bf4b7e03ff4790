import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from "react";
import { api, type User } from "./api.js";

interface Session {
  user: User | null | undefined; // undefined while loading
  setUser(user: User | null): void;
  reload(): Promise<void>;
}

const SessionContext = createContext<Session>({ user: undefined, setUser() {}, async reload() {} });

/** The signed-in user. An expired access cookie is renewed once through the refresh endpoint. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const reload = useCallback(async () => {
    try {
      setUser((await api.get<{ user: User }>("/api/auth/me")).data.user);
    } catch {
      try {
        setUser((await api.post<{ user: User }>("/api/auth/refresh")).data.user);
      } catch {
        setUser(null);
      }
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);
  return <SessionContext.Provider value={{ user, setUser, reload }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}
