import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, hasRefreshToken, onSignedOut, refresh, setTokens, signIn } from "./api";
import type { Me } from "./types";

interface AuthState {
  me: Me | null;
  ready: boolean;
  can: (permission: string) => boolean;
  loginStaff: (telegramId: number, password: string, totpCode?: string) => Promise<void>;
  requestCode: (telegramId: number) => Promise<void>;
  loginCustomer: (telegramId: number, code: string) => Promise<void>;
  logout: () => Promise<void>;
  reload: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const queries = useQueryClient();

  const reload = useCallback(async () => {
    setMe(await api<Me>("/api/me"));
  }, []);

  useEffect(() => {
    // A stored refresh token resumes the session after a reload of the page.
    (async () => {
      if (hasRefreshToken() && (await refresh())) {
        try {
          await reload();
        } catch {
          setMe(null);
        }
      }
      setReady(true);
    })();
    return onSignedOut(() => setMe(null));
  }, [reload]);

  const value: AuthState = {
    me,
    ready,
    can: (p) => me?.session_kind === "staff" && me.permissions.includes(p),
    loginStaff: async (telegram_id, password, totp_code) => {
      await signIn("/api/auth/staff/login", { telegram_id, password, totp_code: totp_code || undefined });
      await reload();
    },
    requestCode: async (telegram_id) => {
      await api("/api/auth/customer/code", { body: { telegram_id } });
    },
    loginCustomer: async (telegram_id, code) => {
      await signIn("/api/auth/customer/login", { telegram_id, code });
      await reload();
    },
    logout: async () => {
      try {
        await api("/api/auth/logout", { method: "POST" });
      } finally {
        setTokens(null);
        setMe(null);
        queries.clear();
      }
    },
    reload,
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(AuthContext);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
