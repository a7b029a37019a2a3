"""Results: call records, the check results the controller collects, and the one verdict."""
