import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, MenuItem, TextField } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { bytes, dateTime, toman } from "../../format";
import type { Subscription } from "../../types";
import { DataTable, ErrorBox, FormDialog, PageHeader, StatusChip } from "../../components/common";

export function AdminSubscriptions() {
  const { t, lang, word } = useLang();
  const queries = useQueryClient();
  const [status, setStatus] = useState("");
  const [cancelling, setCancelling] = useState<Subscription | null>(null);
  const q = useQuery({
    queryKey: ["subscriptions", status],
    queryFn: () => api<Subscription[]>(`/api/admin/subscriptions?limit=200${status ? `&status=${status}` : ""}`),
  });
  return (
    <>
      <PageHeader
        title={t("subscriptions")}
        actions={
          <TextField select size="small" label={t("status")} value={status} onChange={(e) => setStatus(e.target.value)} sx={{ minWidth: 180 }}>
            <MenuItem value="">—</MenuItem>
            {["pending", "active", "failed", "expired", "cancelled"].map((s) => (
              <MenuItem key={s} value={s}>{word(s)}</MenuItem>
            ))}
          </TextField>
        }
      />
      <ErrorBox error={q.error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "customer", label: t("customerCol"), render: (r) => r.customer },
          { key: "plan", label: t("plan"), render: (r) => r.plan_name },
          { key: "loc", label: t("location"), render: (r) => r.location },
          { key: "status", label: t("status"), render: (r) => <StatusChip status={r.status} /> },
          { key: "prov", label: t("panels"), render: (r) => word(r.provisioning) },
          { key: "used", label: t("used"), render: (r) => `${bytes(r.used_bytes, lang)} / ${r.traffic_gb ? `${r.traffic_gb} GB` : t("unlimited")}` },
          { key: "paid", label: t("paid"), render: (r) => toman(r.paid, lang) },
          { key: "exp", label: t("expires"), render: (r) => dateTime(r.expires_at, lang) },
          {
            key: "act",
            label: "",
            render: (r) =>
              r.status === "active" || r.status === "pending" ? (
                <Button size="small" color="error" onClick={() => setCancelling(r)}>{t("cancelSubscription")}</Button>
              ) : null,
          },
        ]}
      />
      <FormDialog
        open={!!cancelling}
        title={t("cancelSubscription")}
        submitLabel={t("confirm")}
        fields={[
          { name: "refund", label: t("refund"), initial: "0" },
          { name: "reason", label: t("reason") },
        ]}
        onClose={() => setCancelling(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/subscriptions/${cancelling!.id}/cancel`, { body: v });
          queries.invalidateQueries({ queryKey: ["subscriptions"] });
        }}
      />
    </>
  );
}
