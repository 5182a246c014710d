{{ hte_staged_experiments() }}
