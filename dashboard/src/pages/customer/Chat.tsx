import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Box, Button, Chip, Paper, Rating, Stack, TextField, Typography } from "@mui/material";
import { api, ApiError } from "../../api";
import { useLang } from "../../i18n";
import { dateTime } from "../../format";
import type { MyChatHistory } from "../../types";
import { ErrorBox, Loading, PageHeader } from "../../components/common";

function newRequestId(): string {
  return crypto.randomUUID();
}

/**
 * The customer's live chat with support: open a chat, write, read the
 * agent's answers (live: `chat_message` / `chat_changed` refetch it), close
 * and rate. Messages are shown as text, never as markup.
 */
export function MyChat() {
  const { t, lang, word } = useLang();
  const queries = useQueryClient();
  const [text, setText] = useState("");
  // One request id per message typed, so a retried send is sent once.
  const [requestId, setRequestId] = useState(newRequestId);
  const q = useQuery({ queryKey: ["my-chat"], queryFn: () => api<MyChatHistory>("/api/me/chat") });
  const refresh = () => queries.invalidateQueries({ queryKey: ["my-chat"] });
  const open = useMutation({
    mutationFn: () => api<{ id: string; new: boolean }>("/api/me/chat", { method: "POST" }),
    onSettled: refresh,
  });
  const chat = q.data?.chat ?? null;
  const send = useMutation({
    mutationFn: () => api(`/api/me/chat/${chat?.id}/messages`, { body: { text, request_id: requestId } }),
    onSuccess: () => {
      setText("");
      setRequestId(newRequestId());
    },
    onSettled: refresh,
  });
  const close = useMutation({ mutationFn: () => api(`/api/me/chat/${chat?.id}/close`, { method: "POST" }), onSettled: refresh });
  const rate = useMutation({
    mutationFn: (stars: number) => api(`/api/me/chat/${chat?.id}/rating`, { body: { stars } }),
    onSettled: refresh,
  });
  const end = useRef<HTMLDivElement>(null);
  const count = q.data?.messages.length ?? 0;
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [count]);

  if (!q.data) {
    return (
      <>
        <PageHeader title={t("liveChat")} />
        {q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : <Loading />}
      </>
    );
  }
  const { messages, can_rate } = q.data;
  const isOpen = chat !== null && chat.status !== "closed";
  const chatOff = open.error instanceof ApiError && open.error.code === "chat_disabled";
  return (
    <>
      <PageHeader
        title={t("liveChat")}
        actions={
          !isOpen && (
            <Button variant="contained" onClick={() => open.mutate()} disabled={open.isPending} data-testid="open-chat">
              {chat ? t("newChat") : t("startChat")}
            </Button>
          )
        }
      />
      {chatOff ? (
        <Alert severity="warning" sx={{ mb: 2 }} data-testid="chat-off">
          {t("chatOff")} ({open.error?.message})
        </Alert>
      ) : (
        <ErrorBox error={open.error} />
      )}
      {!chat ? (
        <Paper sx={{ p: 4 }}>
          <Typography color="text.secondary" data-testid="no-chat">
            {t("chatIntro")}
          </Typography>
        </Paper>
      ) : (
        <Paper sx={{ p: 2, display: "flex", flexDirection: "column", gap: 1, minHeight: 420 }} data-testid="my-conversation" data-chat={chat.id}>
          <Stack direction="row" alignItems="center" gap={1} flexWrap="wrap">
            <Typography variant="h6">#{chat.number}</Typography>
            <Chip size="small" label={word(chat.status)} data-testid="my-chat-status" />
            <Typography variant="body2" color="text.secondary">
              {chat.status === "queued" ? t("chatWaiting") : chat.status === "assigned" ? t("chatWithAgent") : dateTime(chat.closed_at, lang)}
            </Typography>
            <Box sx={{ flexGrow: 1 }} />
            {isOpen && (
              <Button color="error" onClick={() => close.mutate()} disabled={close.isPending} data-testid="end-chat">
                {t("endChat")}
              </Button>
            )}
          </Stack>
          <ErrorBox error={send.error || close.error || rate.error} />
          <Box sx={{ flexGrow: 1, overflowY: "auto", maxHeight: 480, display: "flex", flexDirection: "column", gap: 1 }} data-testid="my-messages">
            {messages.map((m) => (
              <Box
                key={m.position}
                data-testid="my-message"
                data-sender={m.sender}
                sx={{
                  alignSelf: m.sender === "customer" ? "flex-end" : "flex-start",
                  maxWidth: "75%",
                  px: 1.5,
                  py: 1,
                  borderRadius: 2,
                  bgcolor: m.sender === "customer" ? "primary.main" : "action.hover",
                  color: m.sender === "customer" ? "primary.contrastText" : "text.primary",
                }}
              >
                <Typography variant="caption" display="block" sx={{ opacity: 0.8 }}>
                  {m.sender === "customer" ? t("you") : t("support")}
                  {m.content_type !== "text" && ` · [${word(m.content_type)}${m.file_name ? `: ${m.file_name}` : ""}]`}
                </Typography>
                <Typography variant="body2" sx={{ whiteSpace: "pre-wrap" }}>
                  {m.text}
                </Typography>
                <Typography variant="caption" sx={{ opacity: 0.7 }}>
                  {dateTime(m.at, lang)}
                </Typography>
              </Box>
            ))}
            <div ref={end} />
          </Box>
          {isOpen && (
            <Stack
              component="form"
              direction="row"
              gap={1}
              onSubmit={(e) => {
                e.preventDefault();
                if (text.trim()) send.mutate();
              }}
            >
              <TextField
                fullWidth
                size="small"
                multiline
                maxRows={6}
                value={text}
                onChange={(e) => setText(e.target.value)}
                placeholder={t("typeMessage")}
                slotProps={{ htmlInput: { maxLength: 4096, "data-testid": "my-chat-text" } }}
              />
              <Button type="submit" variant="contained" disabled={send.isPending || !text.trim()} data-testid="my-chat-send">
                {t("send")}
              </Button>
            </Stack>
          )}
          {chat.status === "closed" && (
            <Stack direction="row" alignItems="center" gap={1} data-testid="my-chat-rating">
              <Typography>{can_rate ? t("rateChat") : t("yourRating")}</Typography>
              <Rating
                value={chat.rating ?? null}
                readOnly={!can_rate || rate.isPending}
                onChange={(_, v) => {
                  if (v) rate.mutate(v);
                }}
              />
            </Stack>
          )}
        </Paper>
      )}
    </>
  );
}
