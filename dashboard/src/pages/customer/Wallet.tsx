import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Alert, Button, Paper, Stack, TextField, Typography } from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { cardNumber, dateTime, toman } from "../../format";
import type { LedgerEntry, Payment, TopUp } from "../../types";
import { DataTable, ErrorBox, PageHeader, StatusChip } from "../../components/common";
import { Ledger } from "../admin/Users";

export function Wallet() {
  const { t, lang, word } = useLang();
  const { me } = useAuth();
  const [amount, setAmount] = useState("");
  const [topUp, setTopUp] = useState<TopUp | null>(null);
  const [error, setError] = useState<unknown>(null);
  const ledger = useQuery({ queryKey: ["my-transactions"], queryFn: () => api<LedgerEntry[]>("/api/me/transactions?limit=100") });
  const payments = useQuery({ queryKey: ["my-payments"], queryFn: () => api<Payment[]>("/api/me/payments?limit=50") });
  return (
    <>
      <PageHeader title={t("wallet")} />
      <Stack direction={{ xs: "column", md: "row" }} gap={2} sx={{ mb: 2 }}>
        <Paper sx={{ p: 3, flex: 1 }}>
          <Typography color="text.secondary">{t("balance")}</Typography>
          <Typography variant="h4" fontWeight={700} data-testid="wallet-balance">
            {toman(me?.balance, lang)}
          </Typography>
        </Paper>
        <Paper sx={{ p: 3, flex: 2 }}>
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              try {
                setTopUp(await api<TopUp>("/api/me/top-ups", { body: { amount } }));
              } catch (err) {
                setError(err);
              }
            }}
          >
            <Stack direction="row" gap={1} alignItems="flex-start">
              <TextField size="small" label={t("amount")} value={amount} onChange={(e) => setAmount(e.target.value)} name="amount" />
              <Button type="submit" variant="contained">{t("topUp")}</Button>
            </Stack>
          </form>
          <ErrorBox error={error} />
          {topUp && (
            <Alert severity="info" sx={{ mt: 2 }} data-testid="top-up">
              <Typography>{t("topUpHint")}</Typography>
              <Typography sx={{ mt: 1 }}>
                {t("amount")}: <b>{toman(topUp.amount, lang)}</b>
              </Typography>
              <Typography>
                {t("payTo")}: <b dir="ltr">{cardNumber(topUp.card_number)}</b> ({topUp.card_holder})
              </Typography>
            </Alert>
          )}
        </Paper>
      </Stack>
      <Typography variant="h6" sx={{ mb: 1 }}>{t("transactions")}</Typography>
      <ErrorBox error={ledger.error} />
      <Ledger rows={ledger.data} />
      <Typography variant="h6" sx={{ my: 1 }}>{t("payments")}</Typography>
      <DataTable
        rows={payments.data}
        rowKey={(p) => p.id}
        columns={[
          { key: "at", label: t("created"), render: (p) => dateTime(p.created_at, lang) },
          { key: "amount", label: t("amount"), render: (p) => toman(p.amount, lang) },
          { key: "purpose", label: t("purpose"), render: (p) => word(p.purpose) },
          { key: "status", label: t("status"), render: (p) => <StatusChip status={p.status} /> },
          { key: "reason", label: t("reason"), render: (p) => p.reject_reason ?? "" },
        ]}
      />
    </>
  );
}
