-- The console's audit filter by decision (issue 13): newest first within one decision.
CREATE INDEX audit_events_decision ON audit_events (decision, seq);
