import { useState } from "react";
import { Box, Button, Card, CardContent, Stack, Tab, Tabs, TextField, Typography, Alert } from "@mui/material";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { useLang } from "../i18n";
import { ErrorBox } from "../components/common";

export function Login() {
  const { t, lang, setLang } = useLang();
  const { loginStaff, requestCode, loginCustomer } = useAuth();
  const [tab, setTab] = useState<"staff" | "customer">("staff");
  const [id, setId] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [needTotp, setNeedTotp] = useState(false);
  const [code, setCode] = useState("");
  const [codeSent, setCodeSent] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      if (e instanceof ApiError && e.code === "totp_required") setNeedTotp(true);
      else setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box sx={{ minHeight: "100vh", display: "grid", placeItems: "center", p: 2 }}>
      <Card sx={{ width: "100%", maxWidth: 420 }}>
        <CardContent>
          <Stack direction="row" justifyContent="space-between" alignItems="center">
            <Typography variant="h5" fontWeight={700}>
              {t("appName")}
            </Typography>
            <Button onClick={() => setLang(lang === "fa" ? "en" : "fa")} data-testid="switch-language">
              {t("switchLanguage")}
            </Button>
          </Stack>
          <Tabs value={tab} onChange={(_, v) => setTab(v)} sx={{ my: 2 }} variant="fullWidth">
            <Tab value="staff" label={t("staff")} data-testid="tab-staff" />
            <Tab value="customer" label={t("customer")} data-testid="tab-customer" />
          </Tabs>
          {tab === "staff" ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                run(() => loginStaff(Number(id), password, needTotp ? totp : undefined));
              }}
            >
              <Stack gap={2}>
                <TextField label={t("telegramId")} value={id} onChange={(e) => setId(e.target.value)} inputMode="numeric" name="telegram_id" required />
                <TextField label={t("password")} type="password" value={password} onChange={(e) => setPassword(e.target.value)} name="password" required />
                {needTotp && (
                  <>
                    <Alert severity="info">{t("totpNeeded")}</Alert>
                    <TextField label={t("totpCode")} value={totp} onChange={(e) => setTotp(e.target.value)} inputMode="numeric" name="totp_code" autoFocus />
                  </>
                )}
                <Button type="submit" variant="contained" size="large" disabled={busy} data-testid="sign-in">
                  {t("signIn")}
                </Button>
              </Stack>
            </form>
          ) : (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                run(async () => {
                  if (!codeSent) {
                    await requestCode(Number(id));
                    setCodeSent(true);
                  } else {
                    await loginCustomer(Number(id), code);
                  }
                });
              }}
            >
              <Stack gap={2}>
                <TextField label={t("telegramId")} value={id} onChange={(e) => setId(e.target.value)} inputMode="numeric" name="telegram_id" required disabled={codeSent} />
                {codeSent && (
                  <>
                    <Alert severity="info">{t("codeSent")}</Alert>
                    <TextField label={t("code")} value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" name="code" autoFocus />
                  </>
                )}
                <Button type="submit" variant="contained" size="large" disabled={busy} data-testid="customer-submit">
                  {codeSent ? t("signIn") : t("sendCode")}
                </Button>
              </Stack>
            </form>
          )}
          <ErrorBox error={error} />
        </CardContent>
      </Card>
    </Box>
  );
}
