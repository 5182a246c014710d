select * from read_parquet('{{ var("pop_dir") }}/outcomes.parquet')
