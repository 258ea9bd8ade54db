// The six metrics as the API names them, how each is read, shown and judged.
import { duration, percent, perDay, shortDuration } from "./format.js";

const HOUR = 3600, DAY = 86400;

// DORA 2023 bands as metrics_worker/levels.py draws them: [level, from, to) in the API's unit.
export const LEVELS = ["elite", "high", "medium", "low"];
export const LEVEL_TEXT = { elite: "Elite", high: "High", medium: "Medium", low: "Low" };
export const LEVEL_MARK = { elite: "◆", high: "▲", medium: "●", low: "▼" };

export const METRICS = [
  {
    key: "deployment_frequency",
    emptyMax: 1, // the y axis of a chart without data
    title: "Deployment frequency",
    value: (m) => m.per_day,
    format: perDay,
    axis: (v) => (v === 0 ? "0" : v >= 1 ? `${+v.toFixed(1)}/d` : `${+(v * 7).toFixed(1)}/wk`),
    better: "up",
    level: (m) => m.level,
    samples: (m) => [[m.deployments, "deployment"], [m.deploy_days, "deploy day"]],
    bands: [["elite", 1, Infinity], ["high", 1 / 7, 1], ["medium", 1 / 30, 1 / 7], ["low", 0, 1 / 30]],
  },
  {
    key: "lead_time",
    emptyMax: DAY, // the y axis of a chart without data
    title: "Lead time for changes",
    value: (m) => m.median_seconds,
    format: duration,
    axis: shortDuration,
    better: "down",
    level: (m) => m.level,
    detail: (m) => (m.p90_seconds == null ? null : `p90 ${duration(m.p90_seconds)}`),
    samples: (m) => [[m.changes, "change"]],
    bands: [["elite", 0, DAY], ["high", DAY, 7 * DAY], ["medium", 7 * DAY, 30 * DAY], ["low", 30 * DAY, Infinity]],
  },
  {
    key: "change_failure_rate",
    emptyMax: 0.2, // the y axis of a chart without data
    title: "Change failure rate",
    value: (m) => m.rate,
    format: percent,
    axis: (v) => `${+(v * 100).toFixed(0)}%`,
    better: "down",
    level: (m) => m.level,
    detail: (m) => `${m.failed_deployments} failed`,
    samples: (m) => [[m.deployments, "deployment"]],
    bands: [["elite", 0, 0.05], ["high", 0.05, 0.1], ["medium", 0.1, 0.15], ["low", 0.15, Infinity]],
  },
  {
    key: "time_to_restore",
    emptyMax: HOUR, // the y axis of a chart without data
    title: "Time to restore",
    value: (m) => m.median_seconds,
    format: duration,
    axis: shortDuration,
    better: "down",
    level: (m) => m.level,
    detail: (m) => (m.open_incidents ? `${m.open_incidents} still open` : null),
    samples: (m) => [[m.incidents, "incident"]],
    bands: [["elite", 0, HOUR], ["high", HOUR, DAY], ["medium", DAY, 7 * DAY], ["low", 7 * DAY, Infinity]],
  },
  {
    key: "failed_deployment_recovery",
    tile: "failed_deployment_recovery_time", // the tile's data-metric, as the contract spells it
    emptyMax: HOUR, // the y axis of a chart without data
    title: "Failed deployment recovery time",
    value: (m) => m.median_seconds,
    format: duration,
    axis: shortDuration,
    better: "down",
    level: () => null,
    samples: (m) => [[m.samples, "recovery", "recoveries"]],
    bands: null,
  },
  {
    key: "rework_rate",
    emptyMax: 0.2, // the y axis of a chart without data
    title: "Rework rate",
    value: (m) => m.rate,
    format: percent,
    axis: (v) => `${+(v * 100).toFixed(0)}%`,
    better: "down",
    level: () => null,
    detail: (m) => `${m.rework_deployments} rework`,
    samples: (m) => [[m.deployments, "deployment"]],
    bands: null,
  },
];

export const BY_KEY = Object.fromEntries(METRICS.map((m) => [m.key, m]));
