{{ hte_staged_assignments(ref('stg_hte_experiments')) }}
