// GET /api/v1/stream read with fetch (EventSource cannot send the bearer header), reconnecting by
// itself with Last-Event-ID after the server's retry delay.
import { apiUrl, authHeaders } from "./api.js";

export class LiveStream {
  constructor({ onChange, onReset, onState, onAuth }) {
    Object.assign(this, { onChange, onReset, onState, onAuth });
    this.settleMs = 0;
    this.lastId = null;
    this.retry = 3000;
    this.controller = null;
    this.params = null;
    this.generation = 0;
  }

  open(params) {
    const key = JSON.stringify(params);
    if (this.params === key && this.controller) return;
    this.close();
    this.params = key;
    this.lastId = null;
    const generation = ++this.generation;
    this.controller = new AbortController();
    this.run(params, generation, this.controller.signal);
  }

  close() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.params = null;
  }

  async run(params, generation, signal) {
    let attempt = 0;
    while (generation === this.generation && !signal.aborted) {
      try {
        const headers = { Accept: "text/event-stream", ...authHeaders() };
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const response = await fetch(apiUrl("/api/v1/stream", params), { headers, signal, cache: "no-store" });
        if (response.status === 401) {
          this.onState("offline");
          this.onAuth();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        attempt = 0;
        this.onState("live");
        await this.read(response.body, signal);
      } catch (error) {
        if (signal.aborted) return;
      }
      if (generation !== this.generation || signal.aborted) return;
      this.onState("reconnecting");
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.retry * attempt, 30000)));
    }
  }

  async read(stream, signal) {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let event = "message", data = "", id = null;
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data += (data ? "\n" : "") + value;
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    }
    if (id !== null) this.lastId = id;
    if (event === "hello") {
      try {
        this.settleMs = Number(JSON.parse(data).settle_ms) || 0;
      } catch {
        this.settleMs = 0;
      }
    } else if (event === "change") {
      try {
        this.onChange(JSON.parse(data));
      } catch {
        this.onReset();
      }
    } else if (event === "reset") this.onReset();
  }
}
