import type { Lang } from "./i18n";

const locale = (lang: Lang) => (lang === "fa" ? "fa-IR" : "en-GB");

/** `1,250,000 Toman`, in Persian digits for Persian. */
export function toman(value: string | number | null | undefined, lang: Lang): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  const s = new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 1 }).format(n);
  return lang === "fa" ? `${s} تومان` : `${s} Toman`;
}

export function number(value: number | null | undefined, lang: Lang): string {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(locale(lang)).format(value);
}

/** Dates in the Persian (Jalali) calendar for Persian, Gregorian for English. */
export function dateTime(value: string | null | undefined, lang: Lang): string {
  if (!value) return "—";
  const fmt = new Intl.DateTimeFormat(lang === "fa" ? "fa-IR-u-ca-persian" : "en-GB", {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  return fmt.format(new Date(value));
}

export function day(value: string, lang: Lang): string {
  const fmt = new Intl.DateTimeFormat(lang === "fa" ? "fa-IR-u-ca-persian" : "en-GB", { month: "short", day: "numeric" });
  return fmt.format(new Date(`${value}T00:00:00Z`));
}

export function bytes(value: number | null | undefined, lang: Lang): string {
  if (value === null || value === undefined) return "—";
  const gb = value / 1024 ** 3;
  return `${new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 2 }).format(gb)} GB`;
}

/** `6037 9975 9999 9993`, always in Latin digits (people copy it into banking apps). */
export function cardNumber(n: string | null): string {
  if (!n) return "—";
  return n.replace(/\D/g, "").replace(/(\d{4})(?=\d)/g, "$1 ");
}
