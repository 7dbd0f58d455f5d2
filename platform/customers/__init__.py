"""The customer side: scores from any source, QA scorecards, mystery shoppers, follow-ups."""
