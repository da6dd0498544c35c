import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Button, Chip, Stack, Typography } from "@mui/material";
import { api } from "../../api";
import { useLang } from "../../i18n";
import { dateTime } from "../../format";
import type { Notification } from "../../types";
import { DataTable, ErrorBox, PageHeader } from "../../components/common";

const PAGE = 25;

/**
 * What the bot told the caller on Telegram, newest first, a page at a time.
 * The API sends plain text (Telegram HTML stripped); it is rendered as text,
 * never as markup.
 */
export function Notifications() {
  const { t, lang, word } = useLang();
  const [offset, setOffset] = useState(0);
  const q = useQuery({
    queryKey: ["my-notifications", offset],
    queryFn: () => api<Notification[]>(`/api/me/notifications?limit=${PAGE}&offset=${offset}`),
    refetchInterval: 60_000,
  });
  const rows = q.data;
  return (
    <>
      <PageHeader title={t("notifications")} />
      <ErrorBox error={q.error} onRetry={() => q.refetch()} />
      {rows && rows.length === 0 && offset === 0 ? (
        <Typography color="text.secondary" data-testid="no-notifications">
          {t("noNotifications")}
        </Typography>
      ) : (
        <DataTable
          testId="notifications"
          rows={rows}
          rowKey={(n) => `${n.source}:${n.id}`}
          columns={[
            { key: "at", label: t("sentOn"), render: (n) => dateTime(n.sent_at ?? n.created_at, lang) },
            {
              key: "text",
              label: t("notifications"),
              render: (n) => (
                <Typography variant="body2" sx={{ whiteSpace: "pre-wrap" }} data-testid="notification-text">
                  {n.text}
                  {n.photo && ` (${t("withPhoto")})`}
                </Typography>
              ),
            },
            { key: "source", label: t("kind"), render: (n) => word(n.source) },
            {
              key: "status",
              label: t("status"),
              render: (n) => <Chip size="small" label={word(n.status)} color={n.status === "sent" ? "success" : "default"} />,
            },
          ]}
        />
      )}
      {(offset > 0 || (rows?.length ?? 0) >= PAGE) && (
      <Stack direction="row" gap={1} sx={{ mt: 2 }} justifyContent="flex-end">
        <Button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))} data-testid="newer">
          {t("newerPage")}
        </Button>
        <Button disabled={!rows || rows.length < PAGE} onClick={() => setOffset(offset + PAGE)} data-testid="older">
          {t("olderPage")}
        </Button>
      </Stack>
      )}
    </>
  );
}
