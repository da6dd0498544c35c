import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Chip } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { cardNumber, number, toman } from "../../format";
import type { Card } from "../../types";
import { DataTable, ErrorBox, FormDialog, PageHeader } from "../../components/common";

export function Cards() {
  const { t, lang } = useLang();
  const queries = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const q = useQuery({ queryKey: ["cards"], queryFn: () => api<Card[]>("/api/admin/cards") });
  return (
    <>
      <PageHeader title={t("cards")} actions={<Button variant="contained" onClick={() => setAdding(true)}>{t("newCard")}</Button>} />
      <ErrorBox error={q.error || error} />
      <DataTable
        rows={q.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "n", label: t("cardNumber"), render: (r) => <span dir="ltr">{cardNumber(r.number)}</span> },
          { key: "h", label: t("holder"), render: (r) => r.holder },
          { key: "b", label: t("bank"), render: (r) => r.bank ?? "—" },
          { key: "r", label: t("received"), render: (r) => `${toman(r.received_total, lang)} (${number(r.received_count, lang)})` },
          { key: "s", label: t("status"), render: (r) => <Chip size="small" color={r.active ? "success" : "default"} label={r.active ? t("active") : t("retired")} /> },
          {
            key: "a",
            label: "",
            render: (r) =>
              r.active && (
                <Button
                  size="small"
                  color="error"
                  onClick={async () => {
                    try {
                      setError(null);
                      await api(`/api/admin/cards/${r.id}/retire`, { method: "POST" });
                      queries.invalidateQueries({ queryKey: ["cards"] });
                    } catch (e) {
                      setError(e);
                    }
                  }}
                >
                  {t("retire")}
                </Button>
              ),
          },
        ]}
      />
      <FormDialog
        open={adding}
        title={t("newCard")}
        submitLabel={t("add")}
        fields={[
          { name: "number", label: t("cardNumber") },
          { name: "holder", label: t("holder") },
          { name: "bank", label: t("bank") },
        ]}
        onClose={() => setAdding(false)}
        onSubmit={async (v) => {
          await api("/api/admin/cards", { body: { number: v.number, holder: v.holder, bank: v.bank || null } });
          queries.invalidateQueries({ queryKey: ["cards"] });
        }}
      />
    </>
  );
}
