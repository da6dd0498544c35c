import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Alert, Box, Button, Paper, Stack, TextField, Typography } from "@mui/material";
import { QRCodeSVG } from "qrcode.react";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import type { SessionInfo } from "../../types";
import { ErrorBox, FormDialog, PageHeader } from "../../components/common";
import { SessionsTable } from "../admin/Staff";

function TwoFactor() {
  const { t } = useLang();
  const { me, reload } = useAuth();
  const [password, setPassword] = useState("");
  const [setup, setSetup] = useState<{ secret: string; otpauth_url: string } | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const on = !!me?.staff?.totp_enabled;
  const run = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Paper sx={{ p: 3 }}>
      <Typography variant="h6">
        {t("twoFactor")}: {on ? t("totpOn") : t("totpOff")}
      </Typography>
      <Stack gap={2} sx={{ mt: 2, maxWidth: 420 }}>
        <TextField type="password" size="small" label={t("password")} value={password} onChange={(e) => setPassword(e.target.value)} />
        {setup && (
          <>
            <Alert severity="info">{t("totpScan")}</Alert>
            <Box sx={{ p: 1.5, bgcolor: "white", borderRadius: 2, alignSelf: "center" }}>
              <QRCodeSVG value={setup.otpauth_url} size={180} />
            </Box>
            <Typography dir="ltr" sx={{ fontFamily: "monospace", wordBreak: "break-all" }}>{setup.secret}</Typography>
          </>
        )}
        {(setup || on) && <TextField size="small" label={t("totpCode")} value={code} onChange={(e) => setCode(e.target.value)} />}
        {!on && !setup && (
          <Button variant="outlined" onClick={() => run(async () => setSetup(await api("/api/auth/totp/setup", { body: { password } })))}>
            {t("setUpTotp")}
          </Button>
        )}
        {setup && (
          <Button
            variant="contained"
            onClick={() =>
              run(async () => {
                await api("/api/auth/totp/enable", { body: { password, secret: setup.secret, code } });
                setSetup(null);
                await reload();
              })
            }
          >
            {t("enable")}
          </Button>
        )}
        {on && (
          <Button color="error" onClick={() => run(async () => {
            await api("/api/auth/totp/disable", { body: { password, code } });
            await reload();
          })}>
            {t("disable")}
          </Button>
        )}
        <ErrorBox error={error} />
      </Stack>
    </Paper>
  );
}

export function Security() {
  const { t } = useLang();
  const { me } = useAuth();
  const [changing, setChanging] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const sessions = useQuery({ queryKey: ["my-sessions"], queryFn: () => api<SessionInfo[]>("/api/auth/sessions") });
  const staff = me?.session_kind === "staff";
  return (
    <>
      <PageHeader title={t("security")} actions={staff && <Button onClick={() => setChanging(true)}>{t("changePassword")}</Button>} />
      <Stack gap={2}>
        {staff && <TwoFactor />}
        <Typography variant="h6">{t("sessions")}</Typography>
        <ErrorBox error={error || sessions.error} />
        <SessionsTable
          rows={sessions.data}
          onRevoke={async (s) => {
            setError(null);
            try {
              await api(`/api/auth/sessions/${s.id}`, { method: "DELETE" });
              sessions.refetch();
            } catch (e) {
              setError(e);
            }
          }}
        />
      </Stack>
      <FormDialog
        open={changing}
        title={t("changePassword")}
        submitLabel={t("save")}
        fields={[
          { name: "current_password", label: t("currentPassword"), type: "password" },
          { name: "new_password", label: t("newPassword"), type: "password" },
        ]}
        onClose={() => setChanging(false)}
        onSubmit={async (v) => {
          await api("/api/auth/password", { body: v });
          sessions.refetch();
        }}
      />
    </>
  );
}
