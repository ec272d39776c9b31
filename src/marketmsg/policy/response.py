"""The marketplace's answer window (SPEC F6): a buyer's message that needs a reply is answered on
time within 24 hours, weekends and holidays included. One constant that the response-time
figures, the message center's time left and the webhooks' at-risk events all read."""

ON_TIME_SECONDS = 24 * 3600
