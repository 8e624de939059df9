# golden_overlay.rl -- overlay for the golden test

# Why: replaces the prose rule with real Ragel; uses ABNF rules (DIGIT).
prosaic = DIGIT+ >mark %done;

# Why: a new machine that the ABNF rule uses-ovl refers to.
# It uses the ABNF rule quoted and a Ragel builtin.
new_thing = ( quoted | alnum+ ) - "no";
