// Numbers in human form: "2.1 / day", "4 h 16 min", "14.5 %".

const MINUTE = 60, HOUR = 3600, DAY = 86400;

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const negative = seconds < 0;
  let s = Math.abs(seconds);
  let text;
  if (s < MINUTE) text = `${Math.round(s)} s`;
  else if (s < HOUR) text = `${Math.round(s / MINUTE)} min`;
  else if (s < DAY) {
    const h = Math.floor(s / HOUR), m = Math.round((s - h * HOUR) / MINUTE);
    text = m === 60 ? `${h + 1} h` : m ? `${h} h ${m} min` : `${h} h`;
  } else {
    const d = Math.floor(s / DAY), hrs = Math.round((s - d * DAY) / HOUR);
    text = hrs === 24 ? `${d + 1} d` : hrs ? `${d} d ${hrs} h` : `${d} d`;
  }
  return negative ? `−${text}` : text;
}

export function shortDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.abs(seconds);
  if (s < HOUR) return `${+(seconds / MINUTE).toFixed(0)}m`;
  if (s < 2 * DAY) return `${+(seconds / HOUR).toFixed(1)}h`;
  return `${+(seconds / DAY).toFixed(1)}d`;
}

export function perDay(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 1) return `${value.toFixed(value >= 10 ? 0 : 1)} / day`;
  if (value * 7 >= 1) return `${(value * 7).toFixed(1)} / week`;
  return `${(value * 30).toFixed(1)} / month`;
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return `${(ratio * 100).toFixed(1)} %`;
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

export function dateTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function day(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 10) : "";
}
