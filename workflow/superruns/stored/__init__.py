"""Layer 6, reading and managing what is stored: loading rows (:mod:`.loading`), processing
versions kept side by side and their removal (:mod:`.versions`), a campaign's status
(:mod:`.campaign_status`), event selections written as events files (:mod:`.selections`), and
HTML summaries of superrun files (:mod:`.report`)."""
