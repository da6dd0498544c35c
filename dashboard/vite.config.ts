import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `mrjbot serve`; `npm run build`
// writes dist/, which `mrjbot serve` serves (MRJ_DASHBOARD_DIR).
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": { target: process.env.MRJ_API ?? "http://127.0.0.1:8080", changeOrigin: false } },
  },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 2000 },
});
