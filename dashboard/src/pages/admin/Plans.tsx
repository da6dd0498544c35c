import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Chip } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { toman } from "../../format";
import type { Plan } from "../../types";
import { DataTable, ErrorBox, FormDialog, PageHeader } from "../../components/common";

export function Plans() {
  const { t, lang } = useLang();
  const queries = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [pricing, setPricing] = useState<Plan | null>(null);
  const [error, setError] = useState<unknown>(null);
  const q = useQuery({ queryKey: ["admin-plans"], queryFn: () => api<Plan[]>("/api/admin/plans") });
  const refresh = () => {
    queries.invalidateQueries({ queryKey: ["admin-plans"] });
    queries.invalidateQueries({ queryKey: ["plans"] });
  };
  return (
    <>
      <PageHeader title={t("plans")} actions={<Button variant="contained" onClick={() => setAdding(true)}>{t("newPlan")}</Button>} />
      <ErrorBox error={q.error || error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "name", label: t("name"), render: (r) => r.name },
          { key: "days", label: t("days"), render: (r) => r.duration_days },
          { key: "gb", label: t("traffic"), render: (r) => (r.traffic_gb ? `${r.traffic_gb} GB` : t("unlimited")) },
          { key: "price", label: t("price"), render: (r) => toman(r.price, lang) },
          { key: "loc", label: t("locations"), render: (r) => r.locations.join("، ") },
          { key: "status", label: t("status"), render: (r) => <Chip size="small" color={r.active ? "success" : "default"} label={r.active ? t("active") : t("retired")} /> },
          {
            key: "act",
            label: "",
            render: (r) =>
              r.active && (
                <>
                  <Button size="small" onClick={() => setPricing(r)}>{t("changePrice")}</Button>
                  <Button
                    size="small"
                    color="error"
                    onClick={async () => {
                      try {
                        setError(null);
                        await api(`/api/admin/plans/${r.id}/retire`, { method: "POST" });
                        refresh();
                      } catch (e) {
                        setError(e);
                      }
                    }}
                  >
                    {t("retire")}
                  </Button>
                </>
              ),
          },
        ]}
      />
      <FormDialog
        open={adding}
        title={t("newPlan")}
        submitLabel={t("add")}
        fields={[
          { name: "name", label: t("name") },
          { name: "duration_days", label: t("days"), initial: "30" },
          { name: "traffic_gb", label: `${t("traffic")} (GB, 0 = ${t("unlimited")})`, initial: "50" },
          { name: "price", label: t("price") },
          { name: "locations", label: t("locations") },
        ]}
        onClose={() => setAdding(false)}
        onSubmit={async (v) => {
          await api("/api/admin/plans", {
            body: {
              name: v.name,
              duration_days: Number(v.duration_days),
              traffic_gb: Number(v.traffic_gb),
              price: v.price,
              locations: v.locations.split(/[,،]/).map((s) => s.trim()).filter(Boolean),
            },
          });
          refresh();
        }}
      />
      <FormDialog
        open={!!pricing}
        title={`${t("changePrice")}: ${pricing?.name ?? ""}`}
        submitLabel={t("save")}
        fields={[{ name: "price", label: t("price"), initial: pricing?.price }]}
        onClose={() => setPricing(null)}
        onSubmit={async (v) => {
          await api(`/api/admin/plans/${pricing!.id}/price`, { method: "PUT", body: v });
          refresh();
        }}
      />
    </>
  );
}
