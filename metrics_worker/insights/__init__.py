"""Insights: findings explained by numbers anyone can check (docs/metrics.md section 15). Pure."""
