"""The ML practices: evaluation, A/B testing, monitoring, export, registry, models, reports."""
