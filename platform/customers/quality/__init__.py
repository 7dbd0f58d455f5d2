"""Quality checks: QA scorecards of calls and chats, and mystery-shopper audits."""
