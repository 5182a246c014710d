{{ hte_staged_outcomes() }}
