select * from read_parquet('{{ var("pop_dir") }}/population.parquet')
