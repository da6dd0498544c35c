import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Chip, Dialog, DialogActions, DialogContent, DialogTitle } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { dateTime } from "../../format";
import type { SessionInfo, StaffAccount } from "../../types";
import { DataTable, ErrorBox, FormDialog, PageHeader } from "../../components/common";

export function SessionsTable({ rows, onRevoke }: { rows: SessionInfo[] | undefined; onRevoke: (s: SessionInfo) => void }) {
  const { t, lang } = useLang();
  return (
    <DataTable
      rows={rows}
      rowKey={(s) => s.id}
      testId="sessions"
      columns={[
        { key: "kind", label: t("status"), render: (s) => (s.kind === "staff" ? t("staff") : t("customer")) },
        { key: "created", label: t("created"), render: (s) => dateTime(s.created_at, lang) },
        { key: "used", label: t("lastCheck"), render: (s) => dateTime(s.last_used_at, lang) },
        { key: "from", label: "IP", render: (s) => <span dir="ltr">{s.ip ?? "—"}</span> },
        { key: "agent", label: "", render: (s) => <span style={{ fontSize: 12, opacity: 0.7 }}>{(s.user_agent ?? "").slice(0, 40)}</span> },
        {
          key: "state",
          label: "",
          render: (s) =>
            s.current ? (
              <Chip size="small" color="primary" label={t("current")} />
            ) : s.revoked_at ? (
              <Chip size="small" label={s.revoked_reason ?? t("revoke")} />
            ) : (
              <Button size="small" color="error" onClick={() => onRevoke(s)}>{t("revoke")}</Button>
            ),
        },
      ]}
    />
  );
}

export function Staff() {
  const { t, lang } = useLang();
  const queries = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [suspending, setSuspending] = useState<StaffAccount | null>(null);
  const [sessionsOf, setSessionsOf] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const q = useQuery({ queryKey: ["staff"], queryFn: () => api<StaffAccount[]>("/api/admin/staff") });
  const sessions = useQuery({
    queryKey: ["staff", "sessions", sessionsOf],
    queryFn: () => api<SessionInfo[]>(`/api/admin/staff/${sessionsOf}/sessions`),
    enabled: sessionsOf !== null,
  });
  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      queries.invalidateQueries({ queryKey: ["staff"] });
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHeader title={t("staffAccounts")} actions={<Button variant="contained" onClick={() => setAdding(true)}>{t("newStaff")}</Button>} />
      <ErrorBox error={q.error || error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => String(r.telegram_id)}
        columns={[
          { key: "id", label: t("telegramId"), render: (r) => r.telegram_id },
          { key: "u", label: t("username"), render: (r) => (r.username ? <bdi>@{r.username}</bdi> : "—") },
          { key: "roles", label: t("rolesCol"), render: (r) => r.roles.map((x) => <Chip key={x} size="small" label={x} sx={{ mx: 0.25 }} />) },
          { key: "2fa", label: t("twoFactor"), render: (r) => (r.totp_enabled ? t("totpOn") : t("totpOff")) },
          { key: "s", label: t("status"), render: (r) => (r.suspended ? <Chip size="small" color="error" label={`${t("suspend")}: ${r.suspend_reason ?? ""}`} /> : <Chip size="small" color="success" label={t("active")} />) },
          { key: "created", label: t("created"), render: (r) => dateTime(r.created_at, lang) },
          {
            key: "act",
            label: "",
            render: (r) => (
              <>
                <Button size="small" onClick={() => setSessionsOf(r.telegram_id)}>{t("sessions")} ({r.live_sessions})</Button>
                {r.totp_enabled && <Button size="small" onClick={() => act(() => api(`/api/admin/staff/${r.telegram_id}/totp/reset`, { method: "POST" }))}>{t("resetTotp")}</Button>}
                {r.suspended ? (
                  <Button size="small" onClick={() => act(() => api(`/api/admin/staff/${r.telegram_id}/reinstate`, { method: "POST" }))}>{t("reinstate")}</Button>
                ) : (
                  <Button size="small" color="error" onClick={() => setSuspending(r)}>{t("suspend")}</Button>
                )}
              </>
            ),
          },
        ]}
      />
      <FormDialog
        open={adding}
        title={t("newStaff")}
        submitLabel={t("add")}
        fields={[
          { name: "telegram_id", label: t("telegramId") },
          { name: "password", label: t("newPassword"), type: "password" },
        ]}
        onClose={() => setAdding(false)}
        onSubmit={async (v) => {
          await api("/api/admin/staff", { body: { telegram_id: Number(v.telegram_id), password: v.password } });
          queries.invalidateQueries({ queryKey: ["staff"] });
        }}
      />
      <FormDialog
        open={!!suspending}
        title={t("suspend")}
        submitLabel={t("suspend")}
        fields={[{ name: "reason", label: t("reason") }]}
        onClose={() => setSuspending(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/staff/${suspending!.telegram_id}/suspend`, { body: v });
          queries.invalidateQueries({ queryKey: ["staff"] });
        }}
      />
      <Dialog open={sessionsOf !== null} onClose={() => setSessionsOf(null)} fullWidth maxWidth="md">
        <DialogTitle>{t("sessions")}</DialogTitle>
        <DialogContent>
          <SessionsTable
            rows={sessions.data}
            onRevoke={(s) => act(async () => {
              await api(`/api/admin/sessions/${s.id}`, { method: "DELETE" });
              sessions.refetch();
            })}
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setSessionsOf(null)}>{t("close")}</Button>
        </DialogActions>
      </Dialog>
    </>
  );
}
