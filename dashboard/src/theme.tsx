import { useMemo, useState, createContext, useContext, type ReactNode } from "react";
import { CacheProvider } from "@emotion/react";
import createCache from "@emotion/cache";
import { prefixer } from "stylis";
import rtlPlugin from "stylis-plugin-rtl";
import { createTheme, CssBaseline, ThemeProvider } from "@mui/material";
import "@fontsource/vazirmatn/400.css";
import "@fontsource/vazirmatn/600.css";
import { useLang } from "./i18n";

// Two style caches: the RTL one flips margins, paddings and positions for Persian.
const rtlCache = createCache({ key: "mui-rtl", stylisPlugins: [prefixer, rtlPlugin] });
const ltrCache = createCache({ key: "mui-ltr", stylisPlugins: [prefixer] });

interface ModeState {
  dark: boolean;
  toggle: () => void;
}
const ModeContext = createContext<ModeState>({ dark: true, toggle: () => {} });
export const useMode = () => useContext(ModeContext);

export function AppTheme({ children }: { children: ReactNode }) {
  const { dir } = useLang();
  const [dark, setDark] = useState(() => localStorage.getItem("mrjbot.mode") !== "light");
  const theme = useMemo(
    () =>
      createTheme({
        direction: dir,
        palette: {
          mode: dark ? "dark" : "light",
          primary: { main: dark ? "#7c9cff" : "#3957d6" },
          secondary: { main: "#26c6a2" },
          background: dark ? { default: "#0f1320", paper: "#161b2c" } : {},
        },
        shape: { borderRadius: 10 },
        typography: { fontFamily: "Vazirmatn, system-ui, -apple-system, Segoe UI, Roboto, sans-serif" },
      }),
    [dir, dark],
  );
  const mode = useMemo(
    () => ({
      dark,
      toggle: () =>
        setDark((d) => {
          localStorage.setItem("mrjbot.mode", d ? "light" : "dark");
          return !d;
        }),
    }),
    [dark],
  );
  return (
    <ModeContext.Provider value={mode}>
      <CacheProvider value={dir === "rtl" ? rtlCache : ltrCache}>
        <ThemeProvider theme={theme}>
          <CssBaseline />
          {children}
        </ThemeProvider>
      </CacheProvider>
    </ModeContext.Provider>
  );
}
