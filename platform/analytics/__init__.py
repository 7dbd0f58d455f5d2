"""Analytics: the department-month panel every executive figure is read from, its stored monthly
snapshot, and (beside them) the service-profit chain, the dashboards and their charts."""
