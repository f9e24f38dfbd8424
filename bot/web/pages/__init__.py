"""The routes of the web channel, one module per area: account (login, invitation, second
factor), cases (start, questions, summary, files, delete, training), admin, info (emergency,
language, accessibility statement)."""
