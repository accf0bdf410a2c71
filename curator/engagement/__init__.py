"""Readers' engagement: clicks through the signed redirect, opens, "more/less like this", and what they add up to.

machines   is this request a person's or a machine's (scanner lists, the rules)
clicks     the redirect's click: resolve the token, record, classify; SendGrid's click events
feedback   a reader's vote on a pick (POST only)
figures    an issue's report, the trend of the last issues, source health
retention  fold raw click rows into totals after N days; erase a person's rows
"""
