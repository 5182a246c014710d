{{ config(materialized='table') }}
{#- The CSV, typed and read once. unit_id is the row's position in the file (1-based): the data have no customer
    id, and a position is stable across reads, so results can be traced back to a row. Column types are declared,
    not sniffed, so a stray value fails the read instead of silently turning a number column into text. The
    columns follow unit_id in the order declared here. -#}
select
    cast(ordinality as varchar) as unit_id,
    * exclude (ordinality)  -- noqa: AM04
from read_csv(
    '{{ var("hillstrom_data_dir") }}/hillstrom.csv',
    header = true,
    columns = {
        'recency': 'integer', 'history_segment': 'varchar', 'history': 'double', 'mens': 'integer',
        'womens': 'integer', 'zip_code': 'varchar', 'newbie': 'integer', 'channel': 'varchar',
        'segment': 'varchar', 'visit': 'integer', 'conversion': 'integer', 'spend': 'double'
    }
) with ordinality
