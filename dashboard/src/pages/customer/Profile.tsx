import { useState } from "react";
import { Alert, Chip, MenuItem, Paper, Stack, TextField, Typography } from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { dateTime, toman } from "../../format";
import { ErrorBox, PageHeader } from "../../components/common";

export function Profile() {
  const { t, lang } = useLang();
  const { me, reload } = useAuth();
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  if (!me) return null;
  return (
    <>
      <PageHeader title={t("profile")} />
      <Paper sx={{ p: 3 }}>
        <Stack gap={2}>
          <Typography variant="h6">{me.username ? <bdi>@{me.username}</bdi> : me.telegram_id}</Typography>
          <Typography color="text.secondary">
            {t("telegramId")}: {me.telegram_id} · {t("registered")}: {dateTime(me.registered_at, lang)}
          </Typography>
          <Typography>
            {t("balance")}: <b data-testid="my-balance">{toman(me.balance, lang)}</b>
          </Typography>
          {me.roles.length > 0 && (
            <Stack direction="row" gap={1} alignItems="center">
              <Typography color="text.secondary">{t("rolesCol")}:</Typography>
              {me.roles.map((r) => (
                <Chip key={r} label={r} size="small" />
              ))}
            </Stack>
          )}
          <TextField
            select
            label={t("botLanguage")}
            value={me.language}
            sx={{ maxWidth: 240 }}
            onChange={async (e) => {
              setError(null);
              setSaved(false);
              try {
                await api("/api/me/language", { method: "PUT", body: { language: e.target.value } });
                await reload();
                setSaved(true);
              } catch (err) {
                setError(err);
              }
            }}
          >
            <MenuItem value="fa">{t("language_fa")}</MenuItem>
            <MenuItem value="en">{t("language_en")}</MenuItem>
          </TextField>
          {saved && <Alert severity="success">{t("saved")}</Alert>}
          <ErrorBox error={error} />
        </Stack>
      </Paper>
    </>
  );
}
