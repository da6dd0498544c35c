import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Box,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  MenuItem,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { api } from "../../api";
import { useAuth } from "../../auth";
import { useLang } from "../../i18n";
import { dateTime, toman } from "../../format";
import type { Customer, CustomerDetail, LedgerEntry, Roles, Subscription } from "../../types";
import { DataTable, ErrorBox, FormDialog, Loading, PageHeader, StatusChip } from "../../components/common";

export function Ledger({ rows }: { rows: LedgerEntry[] | undefined }) {
  const { t, lang, word } = useLang();
  return (
    <DataTable
      rows={rows}
      rowKey={(r) => String(r.position)}
      testId="ledger"
      columns={[
        { key: "at", label: t("created"), render: (r) => dateTime(r.at, lang) },
        { key: "dir", label: t("direction"), render: (r) => (r.direction === "credit" ? t("credit") : t("debit")) },
        { key: "amount", label: t("amount"), render: (r) => toman(r.amount, lang) },
        { key: "reason", label: t("reason"), render: (r) => word(r.reason) },
        { key: "after", label: t("balance"), render: (r) => toman(r.balance_after, lang) },
      ]}
    />
  );
}

function CustomerDialog({ id, onClose }: { id: number; onClose: () => void }) {
  const { t, lang } = useLang();
  const { can } = useAuth();
  const queries = useQueryClient();
  const [dialog, setDialog] = useState<"block" | "adjust" | null>(null);
  const [role, setRole] = useState("");
  const [error, setError] = useState<unknown>(null);
  const detail = useQuery({ queryKey: ["customer", id], queryFn: () => api<CustomerDetail>(`/api/admin/customers/${id}`) });
  const ledger = useQuery({
    queryKey: ["transactions", id],
    queryFn: () => api<LedgerEntry[]>(`/api/admin/customers/${id}/transactions`),
    enabled: can("manage_users") || can("adjust_wallets"),
  });
  const subs = useQuery({ queryKey: ["subscriptions", "of", id], queryFn: () => api<Subscription[]>(`/api/admin/customers/${id}/subscriptions`) });
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => api<Roles>("/api/admin/roles"), enabled: can("manage_roles") });
  const refresh = () => {
    queries.invalidateQueries({ queryKey: ["customer", id] });
    queries.invalidateQueries({ queryKey: ["customers"] });
  };
  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      refresh();
    } catch (e) {
      setError(e);
    }
  };
  const c = detail.data;
  return (
    <Dialog open onClose={onClose} fullWidth maxWidth="md">
      <DialogTitle>
        {c?.username ? <bdi>@{c.username}</bdi> : id} <Typography component="span" color="text.secondary">({id})</Typography>
      </DialogTitle>
      <DialogContent>
        {!c ? (
          <Loading />
        ) : (
          <Stack gap={2}>
            <Stack direction="row" gap={3} flexWrap="wrap">
              <Box>
                <Typography variant="body2" color="text.secondary">{t("balance")}</Typography>
                <Typography variant="h5" data-testid="customer-balance">{toman(c.balance, lang)}</Typography>
              </Box>
              <Box>
                <Typography variant="body2" color="text.secondary">{t("registered")}</Typography>
                <Typography>{dateTime(c.registered_at, lang)}</Typography>
              </Box>
              <Box>
                <Typography variant="body2" color="text.secondary">{t("status")}</Typography>
                {c.blocked ? <Chip color="error" label={`${t("blocked")}: ${c.block_reason ?? ""}`} /> : <Chip color="success" label={t("active")} />}
              </Box>
            </Stack>
            <Stack direction="row" gap={1} flexWrap="wrap" alignItems="center">
              <Typography variant="body2" color="text.secondary">{t("rolesCol")}:</Typography>
              {c.roles.map((r) => (
                <Chip
                  key={r}
                  label={r}
                  onDelete={can("manage_roles") ? () => act(() => api(`/api/admin/customers/${id}/roles/${r}`, { method: "DELETE" })) : undefined}
                />
              ))}
              {can("manage_roles") && roles.data && (
                <>
                  <TextField select size="small" value={role} onChange={(e) => setRole(e.target.value)} label={t("grantRole")} sx={{ minWidth: 180 }}>
                    {roles.data.roles.filter((r) => !c.roles.includes(r.name)).map((r) => (
                      <MenuItem key={r.name} value={r.name}>{r.name}</MenuItem>
                    ))}
                  </TextField>
                  <Button disabled={!role} onClick={() => act(() => api(`/api/admin/customers/${id}/roles`, { body: { role } }))}>{t("add")}</Button>
                </>
              )}
            </Stack>
            <ErrorBox error={error} />
            <Typography variant="subtitle1" fontWeight={600}>{t("transactions")}</Typography>
            {ledger.data ? <Ledger rows={ledger.data} /> : null}
            <Typography variant="subtitle1" fontWeight={600}>{t("subscriptions")}</Typography>
            <DataTable
              rows={subs.data}
              rowKey={(s) => s.id}
              columns={[
                { key: "plan", label: t("plan"), render: (s) => s.plan_name },
                { key: "loc", label: t("location"), render: (s) => s.location },
                { key: "status", label: t("status"), render: (s) => <StatusChip status={s.status} /> },
                { key: "exp", label: t("expires"), render: (s) => dateTime(s.expires_at, lang) },
              ]}
            />
          </Stack>
        )}
      </DialogContent>
      <DialogActions>
        {c && can("adjust_wallets") && <Button onClick={() => setDialog("adjust")}>{t("adjustWallet")}</Button>}
        {c && can("manage_users") &&
          (c.blocked ? (
            <Button onClick={() => act(() => api(`/api/admin/customers/${id}/unblock`, { method: "POST" }))}>{t("unblock")}</Button>
          ) : (
            <Button color="error" onClick={() => setDialog("block")}>{t("block")}</Button>
          ))}
        <Button onClick={onClose}>{t("close")}</Button>
      </DialogActions>
      <FormDialog
        open={dialog === "block"}
        title={t("block")}
        submitLabel={t("block")}
        fields={[{ name: "reason", label: t("reason") }]}
        onClose={() => setDialog(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/customers/${id}/block`, { body: v });
          refresh();
        }}
      />
      <FormDialog
        open={dialog === "adjust"}
        title={t("adjustWallet")}
        submitLabel={t("save")}
        fields={[
          { name: "amount", label: t("amount"), helper: t("adjustHint") },
          { name: "note", label: t("note") },
        ]}
        onClose={() => setDialog(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/customers/${id}/wallet-adjustments`, { body: v });
          refresh();
        }}
      />
    </Dialog>
  );
}

export function Users() {
  const { t, lang } = useLang();
  const [q, setQ] = useState("");
  const [open, setOpen] = useState<number | null>(null);
  const list = useQuery({
    queryKey: ["customers", q],
    queryFn: () => api<Customer[]>(`/api/admin/customers?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}`),
  });
  return (
    <>
      <PageHeader
        title={t("users")}
        actions={<TextField size="small" placeholder={t("search")} value={q} onChange={(e) => setQ(e.target.value)} name="search" />}
      />
      <ErrorBox error={list.error} />
      <DataTable
        rows={list.data}
        rowKey={(r) => String(r.telegram_id)}
        onRowClick={(r) => setOpen(r.telegram_id)}
        testId="users"
        columns={[
          { key: "id", label: t("telegramId"), render: (r) => r.telegram_id },
          { key: "user", label: t("username"), render: (r) => (r.username ? <bdi>@{r.username}</bdi> : "—") },
          { key: "roles", label: t("rolesCol"), render: (r) => r.roles.map((x) => <Chip key={x} size="small" label={x} sx={{ mx: 0.25 }} />) },
          { key: "balance", label: t("balance"), render: (r) => <span data-testid={`balance-${r.telegram_id}`}>{toman(r.balance, lang)}</span> },
          { key: "status", label: t("status"), render: (r) => (r.blocked ? <Chip size="small" color="error" label={t("blocked")} /> : null) },
          { key: "reg", label: t("registered"), render: (r) => dateTime(r.registered_at, lang) },
        ]}
      />
      {open !== null && <CustomerDialog id={open} onClose={() => setOpen(null)} />}
    </>
  );
}
