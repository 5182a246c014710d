{#- Asymptotic confidence sequences (Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas 2021, "Time-uniform central
    limit theory and asymptotic confidence sequences", Theorem 2.2; the two-sided normal-mixture boundary of Howard,
    Ramdas, McAuliffe & Sekhon 2021, eq. (14)), as GrowthBook and Eppo use them for A/B tests.

    Why: a fixed-horizon interval lift ± z·se is valid at one pre-planned look. Looked at after every nightly build,
    the chance that it excludes the truth at some look grows with the number of looks (about 27% after 30 looks at
    α = 0.05). A confidence sequence covers the truth at every look simultaneously with probability ≥ 1 − α, so it
    may be looked at daily and acted on the first time it excludes 0.

    With t observations whose influence values have standard deviation σ (here t = n_treatment + n_control and
    σ² = t·se², so σ/√t is the lift's standard error se), the boundary is

        radius_t = se · sqrt( 2 (t ρ² + 1) / (t ρ²) · ln( sqrt(t ρ² + 1) / α ) )

    and the sequential p-value is the smallest α at which the sequence at this look excludes 0:

        p_t = min(1, sqrt(t ρ² + 1) · exp( −z² t ρ² / (2 (t ρ² + 1)) )),   z = lift / se.

    ρ is the mixture's tuning parameter. Waudby-Smith et al. (2021, the choice of ρ below Theorem 2.2) give the ρ that makes the radius
    tightest at a chosen sample size t* (var hte_sequential_tuning_n):

        ρ² = (−2 ln α + ln(−2 ln α + 1)) / t*

    At t = t* the radius is about 1.55 times the fixed-horizon one at α = 0.05 (3.04·se instead of 1.96·se); it is
    wider before and after, slowly (3.13·se at 4 t*, 3.36·se at t*/5). The guarantee is asymptotic (a CLT in
    time-uniform form): it needs enough units per arm for the lift to be close to normal, which the package's
    minimum segment size already asks for. -#}


{#- Half-width of the confidence sequence; null unless se > 0 and t > 0. Arguments are column names or short
    expressions (each is repeated). -#}
{% macro hte_cs_radius(se, t, rho2, alpha) -%}
(case when ({{ se }}) > 0 and ({{ t }}) > 0 then
    ({{ se }}) * sqrt(
        2.0e0 * (({{ t }}) * ({{ rho2 }}) + 1.0e0) / (({{ t }}) * ({{ rho2 }}))
        * ln(sqrt(({{ t }}) * ({{ rho2 }}) + 1.0e0) / ({{ alpha }}))
    )
end)
{%- endmacro %}
