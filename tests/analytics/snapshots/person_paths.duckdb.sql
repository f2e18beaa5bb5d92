WITH "t17" AS (
  SELECT
    "t13"."id_type",
    "t13"."id_value",
    MIN("t13"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t5"
    WHERE
      "t5"."status" = 'linked'
  ) AS "t13"
  GROUP BY
    1,
    2
), "t18" AS (
  SELECT
    "t12"."profile_id",
    "t6"."ordered_at" AS "ts",
    'order:' || "t6"."order_id" AS "uid",
    'order' AS "kind",
    "t6"."order_id",
    "t6"."source",
    "t6"."channel",
    "t6"."status",
    "t6"."total",
    "t6"."currency",
    "t6"."campaign_id",
    "t6"."coupon",
    "t6"."store_id",
    "t6"."ordered_at"
  FROM "orders" AS "t6"
  INNER JOIN (
    SELECT
      "t2"."source",
      "t2"."record_id",
      "t2"."profile_id"
    FROM "record_profiles" AS "t2"
  ) AS "t12"
    ON "t6"."source" = "t12"."source" AND "t6"."order_id" = "t12"."record_id"
), "t46" AS (
  SELECT
    "t45"."profile_id",
    "t45"."ts",
    "t45"."channel",
    "t45"."is_conv",
    "t45"."value",
    SUM("t45"."is_conv") OVER (
      PARTITION BY "t45"."profile_id"
      ORDER BY "t45"."ts" ASC, "t45"."is_conv" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - "t45"."is_conv" AS "seq"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t42"."profile_id",
          "t42"."ts",
          "t42"."channel",
          0 AS "is_conv",
          CAST(NULL AS DOUBLE) AS "value"
        FROM (
          SELECT
            *
          FROM (
            SELECT
              "t30"."profile_id",
              "t30"."ts",
              "t11"."by_id" AS "channel"
            FROM (
              SELECT
                *
              FROM "t18" AS "t21"
              WHERE
                "t21"."ts" IS NOT NULL AND "t21"."campaign_id" IS NOT NULL
            ) AS "t30"
            LEFT OUTER JOIN (
              SELECT
                "t1"."campaign_id" AS "id_",
                "t1"."channel" AS "by_id"
              FROM "campaigns" AS "t1"
            ) AS "t11"
              ON "t30"."campaign_id" = "t11"."id_"
          ) AS "t34"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                "t38"."profile_id",
                "t38"."ts",
                CASE
                  WHEN (
                    "t38"."context_campaign_name" IS NOT NULL
                  )
                  AND (
                    "t38"."context_campaign_name" <> ''
                  )
                  THEN COALESCE("t22"."by_name", "t38"."context_campaign_medium", "t38"."context_campaign_source")
                  WHEN "t38"."channel" = 'store'
                  THEN 'store'
                  WHEN "t38"."type" IN ('page', 'screen')
                  THEN 'direct'
                  ELSE NULL
                END AS "channel"
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    COALESCE("t25"."user_profile", "t26"."anon_profile") AS "profile_id",
                    COALESCE("t16"."timestamp", "t16"."original_timestamp", "t16"."received_at") AS "ts",
                    'event:' || "t16"."message_id" AS "uid",
                    'event' AS "kind",
                    "t16"."message_id",
                    "t16"."type",
                    "t16"."event",
                    "t16"."name",
                    "t16"."source",
                    "t16"."channel",
                    "t16"."context_campaign_name",
                    "t16"."context_campaign_source",
                    "t16"."context_campaign_medium",
                    "t16"."context_page_url",
                    "t16"."user_id",
                    "t16"."anonymous_id",
                    "t16"."properties"
                  FROM (
                    SELECT
                      "t4"."message_id",
                      "t4"."type",
                      "t4"."event",
                      "t4"."user_id",
                      "t4"."anonymous_id",
                      "t4"."previous_id",
                      "t4"."group_id",
                      "t4"."name",
                      "t4"."timestamp",
                      "t4"."original_timestamp",
                      "t4"."sent_at",
                      "t4"."received_at",
                      "t4"."source",
                      "t4"."channel",
                      "t4"."context_device_id",
                      "t4"."context_device_type",
                      "t4"."context_os_name",
                      "t4"."context_app_name",
                      "t4"."context_campaign_name",
                      "t4"."context_campaign_source",
                      "t4"."context_campaign_medium",
                      "t4"."context_campaign_term",
                      "t4"."context_campaign_content",
                      "t4"."context_page_url",
                      "t4"."context_ip",
                      "t4"."context_locale",
                      "t4"."context_timezone",
                      "t4"."context",
                      "t4"."properties",
                      "t4"."traits",
                      "t4"."loaded_at",
                      "t4"."load_seq",
                      CASE
                        WHEN "t4"."source" = 'tmall'
                        THEN 'marketplace_buyer_id'
                        ELSE CASE WHEN "t4"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
                      END AS "_user_type",
                      CASE WHEN "t4"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
                    FROM "events" AS "t4"
                  ) AS "t16"
                  LEFT OUTER JOIN (
                    SELECT
                      "t19"."id_type" AS "user_type",
                      "t19"."id_value" AS "user_value",
                      "t19"."profile_id" AS "user_profile"
                    FROM "t17" AS "t19"
                  ) AS "t25"
                    ON "t16"."_user_type" = "t25"."user_type"
                    AND TRIM("t16"."user_id", ' 	
') = "t25"."user_value"
                  LEFT OUTER JOIN (
                    SELECT
                      "t19"."id_type" AS "anon_type",
                      "t19"."id_value" AS "anon_value",
                      "t19"."profile_id" AS "anon_profile"
                    FROM "t17" AS "t19"
                  ) AS "t26"
                    ON "t16"."_anon_type" = "t26"."anon_type"
                    AND TRIM("t16"."anonymous_id", ' 	
') = "t26"."anon_value"
                ) AS "t32"
                WHERE
                  "t32"."profile_id" IS NOT NULL
                  AND "t32"."ts" IS NOT NULL
                  AND "t32"."type" IN ('page', 'screen', 'track')
                  AND NOT (
                    COALESCE("t32"."event", '') IN ('Email Opened', 'Order Completed')
                  )
              ) AS "t38"
              LEFT OUTER JOIN (
                SELECT
                  "t14"."name",
                  "t14"."by_name"
                FROM (
                  SELECT
                    "t9"."name",
                    MIN("t9"."campaign_channel") AS "by_name",
                    COUNT(DISTINCT "t9"."campaign_channel") AS "channels"
                  FROM (
                    SELECT
                      "t1"."campaign_id",
                      "t1"."name",
                      "t1"."channel" AS "campaign_channel"
                    FROM "campaigns" AS "t1"
                  ) AS "t9"
                  GROUP BY
                    1
                ) AS "t14"
                WHERE
                  "t14"."channels" = 1
              ) AS "t22"
                ON "t38"."context_campaign_name" = "t22"."name"
            ) AS "t40"
            UNION ALL
            SELECT
              *
            FROM (
              SELECT
                "t37"."profile_id",
                "t37"."ts",
                COALESCE("t11"."by_id", "t37"."channel") AS "channel"
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    COALESCE("t7"."profile_id", "t29"."found") AS "profile_id",
                    COALESCE("t7"."sent_at", "t7"."queued_at") AS "ts",
                    'delivery:' || "t7"."delivery_id" AS "uid",
                    'delivery' AS "kind",
                    "t7"."delivery_id",
                    "t7"."outbox_id",
                    "t7"."channel",
                    "t7"."campaign_id",
                    "t7"."journey_id",
                    "t7"."template",
                    "t7"."status",
                    "t7"."error"
                  FROM "deliveries" AS "t7"
                  LEFT OUTER JOIN (
                    SELECT
                      "t19"."id_value",
                      MIN("t19"."profile_id") AS "found"
                    FROM "t17" AS "t19"
                    GROUP BY
                      1
                  ) AS "t29"
                    ON TRIM("t7"."recipient", ' 	
') = "t29"."id_value"
                ) AS "t33"
                WHERE
                  "t33"."profile_id" IS NOT NULL
                  AND "t33"."ts" IS NOT NULL
                  AND "t33"."status" = 'clicked'
              ) AS "t37"
              LEFT OUTER JOIN (
                SELECT
                  "t1"."campaign_id" AS "id_",
                  "t1"."channel" AS "by_id"
                FROM "campaigns" AS "t1"
              ) AS "t11"
                ON "t37"."campaign_id" = "t11"."id_"
            ) AS "t39"
          ) AS "t41"
        ) AS "t42"
        WHERE
          "t42"."channel" IS NOT NULL AND "t42"."channel" <> ''
      ) AS "t43"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t21"."profile_id",
          "t21"."ts",
          CAST(NULL AS TEXT) AS "channel",
          1 AS "is_conv",
          CAST("t21"."total" AS DOUBLE) AS "value"
        FROM "t18" AS "t21"
        WHERE
          "t21"."ts" IS NOT NULL
          AND NOT (
            LOWER(COALESCE("t21"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
          )
      ) AS "t31"
    ) AS "t44"
    WHERE
      "t44"."ts" >= MAKE_TIMESTAMP(2026, 1, 31, 0, 0, 0.0)
      AND "t44"."ts" < MAKE_TIMESTAMP(2026, 5, 31, 0, 0, 0.0)
  ) AS "t45"
)
SELECT
  "t54"."profile_id",
  "t54"."seq",
  "t54"."ts",
  "t54"."channel",
  "t54"."age_days",
  "t54"."converted",
  "t54"."value"
FROM (
  SELECT
    "t53"."profile_id",
    "t53"."seq",
    "t53"."ts",
    "t53"."channel",
    "t53"."age_days",
    "t53"."converted",
    "t53"."conv_ts",
    "t53"."value",
    LAG("t53"."channel") OVER (
      PARTITION BY "t53"."profile_id", "t53"."seq"
      ORDER BY "t53"."ts" ASC, "t53"."channel" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "previous"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t50"."profile_id",
        "t50"."seq",
        "t50"."ts",
        "t50"."channel",
        (
          EPOCH(
            CAST(COALESCE("t51"."conv_ts", MAKE_TIMESTAMP(2026, 5, 31, 0, 0, 0.0)) AS TIMESTAMP)
          ) - EPOCH(CAST("t50"."ts" AS TIMESTAMP))
        ) / 86400.0 AS "age_days",
        "t51"."conv_ts" IS NOT NULL AS "converted",
        "t51"."conv_ts",
        COALESCE("t51"."conv_value", 0.0) AS "value"
      FROM (
        SELECT
          *
        FROM "t46" AS "t47"
        WHERE
          "t47"."is_conv" = 0
      ) AS "t50"
      LEFT OUTER JOIN (
        SELECT
          "t47"."profile_id" AS "c_profile",
          "t47"."seq" AS "c_seq",
          "t47"."ts" AS "conv_ts",
          "t47"."value" AS "conv_value"
        FROM "t46" AS "t47"
        WHERE
          "t47"."is_conv" = 1
      ) AS "t51"
        ON "t50"."profile_id" = "t51"."c_profile" AND "t50"."seq" = "t51"."c_seq"
    ) AS "t52"
    WHERE
      "t52"."age_days" <= 30
      AND (
        (
          "t52"."conv_ts" IS NULL
        )
        OR (
          "t52"."conv_ts" >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
        )
      )
  ) AS "t53"
) AS "t54"
WHERE
  (
    "t54"."previous" IS NULL
  ) OR (
    "t54"."previous" <> "t54"."channel"
  )
ORDER BY
  "t54"."profile_id" ASC,
  "t54"."seq" ASC,
  "t54"."ts" ASC,
  "t54"."channel" ASC
