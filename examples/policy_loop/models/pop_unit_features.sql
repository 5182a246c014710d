select * from read_parquet('{{ var("pop_dir") }}/unit_features.parquet')
