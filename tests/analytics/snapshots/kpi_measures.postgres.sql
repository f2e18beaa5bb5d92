WITH "t28" AS (
  SELECT
    "t20"."id_type",
    "t20"."id_value",
    MIN("t20"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t7"
    WHERE
      "t7"."status" = 'linked'
  ) AS "t20"
  GROUP BY
    1,
    2
), "t60" AS (
  SELECT
    "t58"."order_id",
    "t58"."source",
    "t58"."channel",
    "t58"."store_id",
    "t58"."customer_record_id",
    "t58"."user_id",
    "t58"."anonymous_id",
    "t58"."ordered_at",
    "t58"."status",
    "t58"."currency",
    "t58"."subtotal",
    "t58"."discount",
    "t58"."tax",
    "t58"."shipping",
    "t58"."total",
    "t58"."campaign_id",
    "t58"."coupon",
    "t58"."fulfilment",
    "t58"."attributes",
    "t58"."updated_at",
    "t58"."loaded_at",
    "t58"."rp_source",
    "t58"."rp_record",
    "t58"."rp_profile",
    "t58"."ev_order",
    "t58"."ev_campaign",
    "t58"."_campaign",
    "t58"."id_",
    "t58"."id_channel",
    ROW_NUMBER() OVER (
      PARTITION BY "t58"."rp_profile"
      ORDER BY "t58"."ordered_at" ASC, "t58"."order_id" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) - 1 AS "_rank"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t48"."order_id",
        "t48"."source",
        "t48"."channel",
        "t48"."store_id",
        "t48"."customer_record_id",
        "t48"."user_id",
        "t48"."anonymous_id",
        "t48"."ordered_at",
        "t48"."status",
        "t48"."currency",
        "t48"."subtotal",
        "t48"."discount",
        "t48"."tax",
        "t48"."shipping",
        "t48"."total",
        "t48"."campaign_id",
        "t48"."coupon",
        "t48"."fulfilment",
        "t48"."attributes",
        "t48"."updated_at",
        "t48"."loaded_at",
        "t48"."rp_source",
        "t48"."rp_record",
        "t48"."rp_profile",
        "t48"."ev_order",
        "t48"."ev_campaign",
        "t48"."_campaign",
        "t15"."id_",
        "t15"."id_channel"
      FROM (
        SELECT
          "t43"."order_id",
          "t43"."source",
          "t43"."channel",
          "t43"."store_id",
          "t43"."customer_record_id",
          "t43"."user_id",
          "t43"."anonymous_id",
          "t43"."ordered_at",
          "t43"."status",
          "t43"."currency",
          "t43"."subtotal",
          "t43"."discount",
          "t43"."tax",
          "t43"."shipping",
          "t43"."total",
          "t43"."campaign_id",
          "t43"."coupon",
          "t43"."fulfilment",
          "t43"."attributes",
          "t43"."updated_at",
          "t43"."loaded_at",
          "t43"."rp_source",
          "t43"."rp_record",
          "t43"."rp_profile",
          "t43"."ev_order",
          "t43"."ev_campaign",
          COALESCE("t43"."campaign_id", "t43"."ev_campaign") AS "_campaign"
        FROM (
          SELECT
            "t8"."order_id",
            "t8"."source",
            "t8"."channel",
            "t8"."store_id",
            "t8"."customer_record_id",
            "t8"."user_id",
            "t8"."anonymous_id",
            "t8"."ordered_at",
            "t8"."status",
            "t8"."currency",
            "t8"."subtotal",
            "t8"."discount",
            "t8"."tax",
            "t8"."shipping",
            "t8"."total",
            "t8"."campaign_id",
            "t8"."coupon",
            "t8"."fulfilment",
            "t8"."attributes",
            "t8"."updated_at",
            "t8"."loaded_at",
            "t19"."rp_source",
            "t19"."rp_record",
            "t19"."rp_profile",
            "t41"."ev_order",
            "t41"."ev_campaign"
          FROM "orders" AS "t8"
          LEFT OUTER JOIN (
            SELECT
              "t5"."source" AS "rp_source",
              "t5"."record_id" AS "rp_record",
              "t5"."profile_id" AS "rp_profile"
            FROM "record_profiles" AS "t5"
          ) AS "t19"
            ON "t8"."source" = "t19"."rp_source" AND "t8"."order_id" = "t19"."rp_record"
          LEFT OUTER JOIN (
            SELECT
              "t36"."ev_order",
              MIN(COALESCE("t36"."name_id", "t36"."ev_campaign")) AS "ev_campaign"
            FROM (
              SELECT
                "t27"."ev_order",
                "t27"."ev_campaign",
                "t29"."name",
                "t29"."name_id",
                "t29"."name_channel"
              FROM (
                SELECT
                  CASE
                    WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t6"."properties" AS JSON), 'order_id')) = 'string'
                    THEN JSON_EXTRACT_PATH_TEXT(
                      JSON_EXTRACT_PATH(CAST("t6"."properties" AS JSON), 'order_id'),
                      VARIADIC ARRAY[]::TEXT[]
                    )
                    ELSE NULL
                  END AS "ev_order",
                  "t6"."context_campaign_name" AS "ev_campaign"
                FROM "events" AS "t6"
                WHERE
                  "t6"."event" = 'Order Completed'
                  AND "t6"."context_campaign_name" IS NOT NULL
                  AND "t6"."context_campaign_name" <> ''
              ) AS "t27"
              LEFT OUTER JOIN (
                SELECT
                  "t16"."name",
                  "t16"."name_id",
                  "t16"."name_channel"
                FROM (
                  SELECT
                    "t1"."name",
                    MIN("t1"."campaign_id") AS "name_id",
                    MIN("t1"."channel") AS "name_channel",
                    COUNT(DISTINCT "t1"."campaign_id") AS "ids"
                  FROM "campaigns" AS "t1"
                  GROUP BY
                    1
                ) AS "t16"
                WHERE
                  "t16"."ids" = 1
              ) AS "t29"
                ON "t27"."ev_campaign" = "t29"."name"
            ) AS "t36"
            GROUP BY
              1
          ) AS "t41"
            ON "t8"."order_id" = "t41"."ev_order"
        ) AS "t43"
      ) AS "t48"
      LEFT OUTER JOIN (
        SELECT
          "t1"."campaign_id" AS "id_",
          "t1"."channel" AS "id_channel"
        FROM "campaigns" AS "t1"
      ) AS "t15"
        ON "t48"."_campaign" = "t15"."id_"
    ) AS "t52"
    WHERE
      NOT (
        LOWER(COALESCE("t52"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
      )
  ) AS "t58"
), "t75" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          CAST("t0"."date" AS TIMESTAMP) AS "ts",
          'impression' AS "measure",
          "t0"."channel",
          "t0"."campaign_id" AS "campaign",
          CAST(NULL AS VARCHAR) AS "content",
          CAST(NULL AS VARCHAR) AS "profile_id",
          COALESCE("t0"."impressions", 0) AS "n",
          CAST(NULL AS DOUBLE PRECISION) AS "value"
        FROM "ad_spend" AS "t0"
      ) AS "t12"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          CAST("t0"."date" AS TIMESTAMP) AS "ts",
          'click' AS "measure",
          "t0"."channel",
          "t0"."campaign_id" AS "campaign",
          CAST(NULL AS VARCHAR) AS "content",
          CAST(NULL AS VARCHAR) AS "profile_id",
          COALESCE("t0"."clicks", 0) AS "n",
          CAST(NULL AS DOUBLE PRECISION) AS "value"
        FROM "ad_spend" AS "t0"
      ) AS "t13"
    ) AS "t21"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          CAST("t0"."date" AS TIMESTAMP) AS "ts",
          'spend' AS "measure",
          "t0"."channel",
          "t0"."campaign_id" AS "campaign",
          CAST(NULL AS VARCHAR) AS "content",
          CAST(NULL AS VARCHAR) AS "profile_id",
          CAST(1 AS BIGINT) AS "n",
          CAST("t0"."spend" AS DOUBLE PRECISION) AS "value"
        FROM "ad_spend" AS "t0"
      ) AS "t14"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            CAST("t48"."ordered_at" AS TIMESTAMP) AS "ts",
            'order' AS "measure",
            "t15"."id_channel" AS "channel",
            "t48"."_campaign" AS "campaign",
            CAST(NULL AS VARCHAR) AS "content",
            "t48"."rp_profile" AS "profile_id",
            CAST(1 AS BIGINT) AS "n",
            CAST("t48"."total" AS DOUBLE PRECISION) AS "value"
          FROM (
            SELECT
              "t43"."order_id",
              "t43"."source",
              "t43"."channel",
              "t43"."store_id",
              "t43"."customer_record_id",
              "t43"."user_id",
              "t43"."anonymous_id",
              "t43"."ordered_at",
              "t43"."status",
              "t43"."currency",
              "t43"."subtotal",
              "t43"."discount",
              "t43"."tax",
              "t43"."shipping",
              "t43"."total",
              "t43"."campaign_id",
              "t43"."coupon",
              "t43"."fulfilment",
              "t43"."attributes",
              "t43"."updated_at",
              "t43"."loaded_at",
              "t43"."rp_source",
              "t43"."rp_record",
              "t43"."rp_profile",
              "t43"."ev_order",
              "t43"."ev_campaign",
              COALESCE("t43"."campaign_id", "t43"."ev_campaign") AS "_campaign"
            FROM (
              SELECT
                "t8"."order_id",
                "t8"."source",
                "t8"."channel",
                "t8"."store_id",
                "t8"."customer_record_id",
                "t8"."user_id",
                "t8"."anonymous_id",
                "t8"."ordered_at",
                "t8"."status",
                "t8"."currency",
                "t8"."subtotal",
                "t8"."discount",
                "t8"."tax",
                "t8"."shipping",
                "t8"."total",
                "t8"."campaign_id",
                "t8"."coupon",
                "t8"."fulfilment",
                "t8"."attributes",
                "t8"."updated_at",
                "t8"."loaded_at",
                "t19"."rp_source",
                "t19"."rp_record",
                "t19"."rp_profile",
                "t41"."ev_order",
                "t41"."ev_campaign"
              FROM "orders" AS "t8"
              LEFT OUTER JOIN (
                SELECT
                  "t5"."source" AS "rp_source",
                  "t5"."record_id" AS "rp_record",
                  "t5"."profile_id" AS "rp_profile"
                FROM "record_profiles" AS "t5"
              ) AS "t19"
                ON "t8"."source" = "t19"."rp_source" AND "t8"."order_id" = "t19"."rp_record"
              LEFT OUTER JOIN (
                SELECT
                  "t36"."ev_order",
                  MIN(COALESCE("t36"."name_id", "t36"."ev_campaign")) AS "ev_campaign"
                FROM (
                  SELECT
                    "t27"."ev_order",
                    "t27"."ev_campaign",
                    "t29"."name",
                    "t29"."name_id",
                    "t29"."name_channel"
                  FROM (
                    SELECT
                      CASE
                        WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t6"."properties" AS JSON), 'order_id')) = 'string'
                        THEN JSON_EXTRACT_PATH_TEXT(
                          JSON_EXTRACT_PATH(CAST("t6"."properties" AS JSON), 'order_id'),
                          VARIADIC ARRAY[]::TEXT[]
                        )
                        ELSE NULL
                      END AS "ev_order",
                      "t6"."context_campaign_name" AS "ev_campaign"
                    FROM "events" AS "t6"
                    WHERE
                      "t6"."event" = 'Order Completed'
                      AND "t6"."context_campaign_name" IS NOT NULL
                      AND "t6"."context_campaign_name" <> ''
                  ) AS "t27"
                  LEFT OUTER JOIN (
                    SELECT
                      "t16"."name",
                      "t16"."name_id",
                      "t16"."name_channel"
                    FROM (
                      SELECT
                        "t1"."name",
                        MIN("t1"."campaign_id") AS "name_id",
                        MIN("t1"."channel") AS "name_channel",
                        COUNT(DISTINCT "t1"."campaign_id") AS "ids"
                      FROM "campaigns" AS "t1"
                      GROUP BY
                        1
                    ) AS "t16"
                    WHERE
                      "t16"."ids" = 1
                  ) AS "t29"
                    ON "t27"."ev_campaign" = "t29"."name"
                ) AS "t36"
                GROUP BY
                  1
              ) AS "t41"
                ON "t8"."order_id" = "t41"."ev_order"
            ) AS "t43"
          ) AS "t48"
          LEFT OUTER JOIN (
            SELECT
              "t1"."campaign_id" AS "id_",
              "t1"."channel" AS "id_channel"
            FROM "campaigns" AS "t1"
          ) AS "t15"
            ON "t48"."_campaign" = "t15"."id_"
        ) AS "t51"
      ) AS "t55"
    ) AS "t56"
  ) AS "t57"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          CAST("t62"."ordered_at" AS TIMESTAMP) AS "ts",
          'deal' AS "measure",
          "t62"."id_channel" AS "channel",
          "t62"."_campaign" AS "campaign",
          CAST(NULL AS VARCHAR) AS "content",
          "t62"."rp_profile" AS "profile_id",
          CAST(1 AS BIGINT) AS "n",
          CAST("t62"."total" AS DOUBLE PRECISION) AS "value"
        FROM "t60" AS "t62"
      ) AS "t64"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            CAST("t67"."ordered_at" AS TIMESTAMP) AS "ts",
            'new_customer' AS "measure",
            "t67"."id_channel" AS "channel",
            "t67"."_campaign" AS "campaign",
            CAST(NULL AS VARCHAR) AS "content",
            "t67"."rp_profile" AS "profile_id",
            CAST(1 AS BIGINT) AS "n",
            CAST(NULL AS DOUBLE PRECISION) AS "value"
          FROM (
            SELECT
              *
            FROM "t60" AS "t62"
            WHERE
              "t62"."rp_profile" IS NOT NULL AND "t62"."_rank" = 0
          ) AS "t67"
          LEFT OUTER JOIN (
            SELECT
              "t2"."profile_id" AS "clv_profile",
              "t2"."predicted_clv" AS "clv"
            FROM "profiles" AS "t2"
          ) AS "t17"
            ON "t67"."rp_profile" = "t17"."clv_profile"
        ) AS "t68"
      ) AS "t70"
    ) AS "t71"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          CAST("t69"."ordered_at" AS TIMESTAMP) AS "ts",
          'clv' AS "measure",
          "t69"."id_channel" AS "channel",
          "t69"."_campaign" AS "campaign",
          CAST(NULL AS VARCHAR) AS "content",
          "t69"."rp_profile" AS "profile_id",
          CAST(1 AS BIGINT) AS "n",
          "t69"."clv" AS "value"
        FROM (
          SELECT
            "t67"."order_id",
            "t67"."source",
            "t67"."channel",
            "t67"."store_id",
            "t67"."customer_record_id",
            "t67"."user_id",
            "t67"."anonymous_id",
            "t67"."ordered_at",
            "t67"."status",
            "t67"."currency",
            "t67"."subtotal",
            "t67"."discount",
            "t67"."tax",
            "t67"."shipping",
            "t67"."total",
            "t67"."campaign_id",
            "t67"."coupon",
            "t67"."fulfilment",
            "t67"."attributes",
            "t67"."updated_at",
            "t67"."loaded_at",
            "t67"."rp_source",
            "t67"."rp_record",
            "t67"."rp_profile",
            "t67"."ev_order",
            "t67"."ev_campaign",
            "t67"."_campaign",
            "t67"."id_",
            "t67"."id_channel",
            "t67"."_rank",
            "t17"."clv_profile",
            "t17"."clv"
          FROM (
            SELECT
              *
            FROM "t60" AS "t62"
            WHERE
              "t62"."rp_profile" IS NOT NULL AND "t62"."_rank" = 0
          ) AS "t67"
          LEFT OUTER JOIN (
            SELECT
              "t2"."profile_id" AS "clv_profile",
              "t2"."predicted_clv" AS "clv"
            FROM "profiles" AS "t2"
          ) AS "t17"
            ON "t67"."rp_profile" = "t17"."clv_profile"
        ) AS "t69"
        WHERE
          "t69"."clv" IS NOT NULL
      ) AS "t72"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            CAST("t46"."ts" AS TIMESTAMP) AS "ts",
            'send' AS "measure",
            "t46"."channel",
            "t46"."campaign",
            "t46"."content",
            "t46"."profile_id",
            CAST(1 AS BIGINT) AS "n",
            CAST(NULL AS DOUBLE PRECISION) AS "value"
          FROM (
            SELECT
              "t42"."_key",
              MIN("t42"."_ts") AS "ts",
              MIN("t42"."channel") AS "channel",
              MIN("t42"."campaign_id") AS "campaign",
              MIN("t42"."template") AS "content",
              MIN("t42"."_pid") AS "profile_id"
            FROM (
              SELECT
                "t40"."delivery_id",
                "t40"."channel",
                "t40"."campaign_id",
                "t40"."journey_id",
                "t40"."step_id",
                "t40"."profile_id",
                "t40"."recipient",
                "t40"."template",
                "t40"."status",
                "t40"."error",
                "t40"."provider_message_id",
                "t40"."queued_at",
                "t40"."sent_at",
                "t40"."outbox_id",
                "t40"."at",
                "t40"."kind",
                "t40"."origin",
                "t40"."template_version",
                "t40"."attempt",
                "t40"."reason",
                "t40"."id_value",
                "t40"."found",
                COALESCE(CAST("t40"."outbox_id" AS VARCHAR), "t40"."provider_message_id", "t40"."delivery_id") AS "_key",
                COALESCE("t40"."at", "t40"."sent_at", "t40"."queued_at") AS "_ts",
                COALESCE("t40"."profile_id", "t40"."found") AS "_pid"
              FROM (
                SELECT
                  "t22"."delivery_id",
                  "t22"."channel",
                  "t22"."campaign_id",
                  "t22"."journey_id",
                  "t22"."step_id",
                  "t22"."profile_id",
                  "t22"."recipient",
                  "t22"."template",
                  "t22"."status",
                  "t22"."error",
                  "t22"."provider_message_id",
                  "t22"."queued_at",
                  "t22"."sent_at",
                  "t22"."outbox_id",
                  "t22"."at",
                  "t22"."kind",
                  "t22"."origin",
                  "t22"."template_version",
                  "t22"."attempt",
                  "t22"."reason",
                  "t37"."id_value",
                  "t37"."found"
                FROM (
                  SELECT
                    *
                  FROM "deliveries" AS "t4"
                  WHERE
                    "t4"."status" IN ('sent', 'delivered')
                ) AS "t22"
                LEFT OUTER JOIN (
                  SELECT
                    "t30"."id_value",
                    MIN("t30"."profile_id") AS "found"
                  FROM "t28" AS "t30"
                  GROUP BY
                    1
                ) AS "t37"
                  ON TRIM(' 	
' FROM "t22"."recipient") = "t37"."id_value"
              ) AS "t40"
            ) AS "t42"
            GROUP BY
              1
          ) AS "t46"
        ) AS "t49"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            CAST("t61"."ts" AS TIMESTAMP) AS "ts",
            "t61"."measure",
            "t61"."channel",
            "t61"."campaign",
            "t61"."content",
            "t61"."profile_id",
            CAST(1 AS BIGINT) AS "n",
            CAST(NULL AS DOUBLE PRECISION) AS "value"
          FROM (
            SELECT
              "t59"."measure",
              "t59"."key",
              MIN("t59"."ts") AS "ts",
              MIN("t59"."channel") AS "channel",
              MIN("t59"."campaign") AS "campaign",
              MIN("t59"."content") AS "content",
              MIN("t59"."profile_id") AS "profile_id"
            FROM (
              SELECT
                "t54"."_ts" AS "ts",
                CASE
                  WHEN COALESCE("t54"."event", '') IN ('Email Opened', 'Inbox Message Read', 'Push Notification Opened')
                  THEN 'open'
                  WHEN COALESCE("t54"."event", '') IN (
                    'Email Link Clicked',
                    'SMS Link Clicked',
                    'WeChat Message Clicked',
                    'Push Notification Tapped',
                    'Inbox Message Clicked'
                  )
                  THEN 'click'
                  WHEN COALESCE("t54"."event", '') IN (
                    'Product Shared',
                    'Content Shared',
                    'Cart Shared',
                    'Message Forwarded',
                    'Email Forwarded',
                    'Post Shared'
                  )
                  THEN 'share'
                  WHEN COALESCE("t54"."event", '') IN (
                    'Comment Posted',
                    'Content Commented',
                    'Content Liked',
                    'Post Liked',
                    'Post Commented',
                    'Product Reviewed'
                  )
                  THEN 'interaction'
                  WHEN COALESCE("t54"."event", '') IN (
                    'Reservation Made',
                    'Reservation Created',
                    'Booking Completed',
                    'Appointment Booked'
                  )
                  THEN 'reservation'
                  ELSE 'visit'
                END AS "measure",
                COALESCE(
                  "t15"."id_channel",
                  "t54"."name_channel",
                  "t54"."context_campaign_medium",
                  "t54"."context_campaign_source",
                  "t54"."channel"
                ) AS "channel",
                "t54"."_campaign" AS "campaign",
                "t54"."context_campaign_content" AS "content",
                "t54"."_pid" AS "profile_id",
                CAST(1 AS BIGINT) AS "n",
                CAST(NULL AS DOUBLE PRECISION) AS "value",
                CASE
                  WHEN CASE
                    WHEN COALESCE("t54"."event", '') IN ('Email Opened', 'Inbox Message Read', 'Push Notification Opened')
                    THEN 'open'
                    WHEN COALESCE("t54"."event", '') IN (
                      'Email Link Clicked',
                      'SMS Link Clicked',
                      'WeChat Message Clicked',
                      'Push Notification Tapped',
                      'Inbox Message Clicked'
                    )
                    THEN 'click'
                    WHEN COALESCE("t54"."event", '') IN (
                      'Product Shared',
                      'Content Shared',
                      'Cart Shared',
                      'Message Forwarded',
                      'Email Forwarded',
                      'Post Shared'
                    )
                    THEN 'share'
                    WHEN COALESCE("t54"."event", '') IN (
                      'Comment Posted',
                      'Content Commented',
                      'Content Liked',
                      'Post Liked',
                      'Post Commented',
                      'Product Reviewed'
                    )
                    THEN 'interaction'
                    WHEN COALESCE("t54"."event", '') IN (
                      'Reservation Made',
                      'Reservation Created',
                      'Booking Completed',
                      'Appointment Booked'
                    )
                    THEN 'reservation'
                    ELSE 'visit'
                  END = 'open'
                  THEN COALESCE("t54"."_prop_delivery", "t54"."message_id")
                  ELSE "t54"."message_id"
                END AS "key"
              FROM (
                SELECT
                  "t50"."message_id",
                  "t50"."type",
                  "t50"."event",
                  "t50"."user_id",
                  "t50"."anonymous_id",
                  "t50"."previous_id",
                  "t50"."group_id",
                  "t50"."name",
                  "t50"."timestamp",
                  "t50"."original_timestamp",
                  "t50"."sent_at",
                  "t50"."received_at",
                  "t50"."source",
                  "t50"."channel",
                  "t50"."context_device_id",
                  "t50"."context_device_type",
                  "t50"."context_os_name",
                  "t50"."context_app_name",
                  "t50"."context_campaign_name",
                  "t50"."context_campaign_source",
                  "t50"."context_campaign_medium",
                  "t50"."context_campaign_term",
                  "t50"."context_campaign_content",
                  "t50"."context_page_url",
                  "t50"."context_ip",
                  "t50"."context_locale",
                  "t50"."context_timezone",
                  "t50"."context",
                  "t50"."properties",
                  "t50"."traits",
                  "t50"."loaded_at",
                  "t50"."load_seq",
                  "t50"."_user_type",
                  "t50"."_anon_type",
                  "t50"."user_type",
                  "t50"."user_value",
                  "t50"."user_profile",
                  "t50"."anon_type",
                  "t50"."anon_value",
                  "t50"."anon_profile",
                  "t50"."_pid",
                  "t50"."_ts",
                  "t50"."_prop_campaign",
                  "t50"."_prop_delivery",
                  "t50"."name_right",
                  "t50"."name_id",
                  "t50"."name_channel",
                  COALESCE("t50"."name_id", "t50"."_prop_campaign", "t50"."context_campaign_name") AS "_campaign"
                FROM (
                  SELECT
                    "t45"."message_id",
                    "t45"."type",
                    "t45"."event",
                    "t45"."user_id",
                    "t45"."anonymous_id",
                    "t45"."previous_id",
                    "t45"."group_id",
                    "t45"."name",
                    "t45"."timestamp",
                    "t45"."original_timestamp",
                    "t45"."sent_at",
                    "t45"."received_at",
                    "t45"."source",
                    "t45"."channel",
                    "t45"."context_device_id",
                    "t45"."context_device_type",
                    "t45"."context_os_name",
                    "t45"."context_app_name",
                    "t45"."context_campaign_name",
                    "t45"."context_campaign_source",
                    "t45"."context_campaign_medium",
                    "t45"."context_campaign_term",
                    "t45"."context_campaign_content",
                    "t45"."context_page_url",
                    "t45"."context_ip",
                    "t45"."context_locale",
                    "t45"."context_timezone",
                    "t45"."context",
                    "t45"."properties",
                    "t45"."traits",
                    "t45"."loaded_at",
                    "t45"."load_seq",
                    "t45"."_user_type",
                    "t45"."_anon_type",
                    "t45"."user_type",
                    "t45"."user_value",
                    "t45"."user_profile",
                    "t45"."anon_type",
                    "t45"."anon_value",
                    "t45"."anon_profile",
                    "t45"."_pid",
                    "t45"."_ts",
                    "t45"."_prop_campaign",
                    "t45"."_prop_delivery",
                    "t29"."name" AS "name_right",
                    "t29"."name_id",
                    "t29"."name_channel"
                  FROM (
                    SELECT
                      "t38"."message_id",
                      "t38"."type",
                      "t38"."event",
                      "t38"."user_id",
                      "t38"."anonymous_id",
                      "t38"."previous_id",
                      "t38"."group_id",
                      "t38"."name",
                      "t38"."timestamp",
                      "t38"."original_timestamp",
                      "t38"."sent_at",
                      "t38"."received_at",
                      "t38"."source",
                      "t38"."channel",
                      "t38"."context_device_id",
                      "t38"."context_device_type",
                      "t38"."context_os_name",
                      "t38"."context_app_name",
                      "t38"."context_campaign_name",
                      "t38"."context_campaign_source",
                      "t38"."context_campaign_medium",
                      "t38"."context_campaign_term",
                      "t38"."context_campaign_content",
                      "t38"."context_page_url",
                      "t38"."context_ip",
                      "t38"."context_locale",
                      "t38"."context_timezone",
                      "t38"."context",
                      "t38"."properties",
                      "t38"."traits",
                      "t38"."loaded_at",
                      "t38"."load_seq",
                      "t38"."_user_type",
                      "t38"."_anon_type",
                      "t38"."user_type",
                      "t38"."user_value",
                      "t38"."user_profile",
                      "t38"."anon_type",
                      "t38"."anon_value",
                      "t38"."anon_profile",
                      COALESCE("t38"."user_profile", "t38"."anon_profile") AS "_pid",
                      COALESCE("t38"."timestamp", "t38"."original_timestamp", "t38"."received_at") AS "_ts",
                      CASE
                        WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t38"."properties" AS JSON), 'campaign_id')) = 'string'
                        THEN JSON_EXTRACT_PATH_TEXT(
                          JSON_EXTRACT_PATH(CAST("t38"."properties" AS JSON), 'campaign_id'),
                          VARIADIC ARRAY[]::TEXT[]
                        )
                        ELSE NULL
                      END AS "_prop_campaign",
                      CASE
                        WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t38"."properties" AS JSON), 'delivery_id')) = 'string'
                        THEN JSON_EXTRACT_PATH_TEXT(
                          JSON_EXTRACT_PATH(CAST("t38"."properties" AS JSON), 'delivery_id'),
                          VARIADIC ARRAY[]::TEXT[]
                        )
                        ELSE NULL
                      END AS "_prop_delivery"
                    FROM (
                      SELECT
                        "t26"."message_id",
                        "t26"."type",
                        "t26"."event",
                        "t26"."user_id",
                        "t26"."anonymous_id",
                        "t26"."previous_id",
                        "t26"."group_id",
                        "t26"."name",
                        "t26"."timestamp",
                        "t26"."original_timestamp",
                        "t26"."sent_at",
                        "t26"."received_at",
                        "t26"."source",
                        "t26"."channel",
                        "t26"."context_device_id",
                        "t26"."context_device_type",
                        "t26"."context_os_name",
                        "t26"."context_app_name",
                        "t26"."context_campaign_name",
                        "t26"."context_campaign_source",
                        "t26"."context_campaign_medium",
                        "t26"."context_campaign_term",
                        "t26"."context_campaign_content",
                        "t26"."context_page_url",
                        "t26"."context_ip",
                        "t26"."context_locale",
                        "t26"."context_timezone",
                        "t26"."context",
                        "t26"."properties",
                        "t26"."traits",
                        "t26"."loaded_at",
                        "t26"."load_seq",
                        "t26"."_user_type",
                        "t26"."_anon_type",
                        "t34"."user_type",
                        "t34"."user_value",
                        "t34"."user_profile",
                        "t35"."anon_type",
                        "t35"."anon_value",
                        "t35"."anon_profile"
                      FROM (
                        SELECT
                          "t6"."message_id",
                          "t6"."type",
                          "t6"."event",
                          "t6"."user_id",
                          "t6"."anonymous_id",
                          "t6"."previous_id",
                          "t6"."group_id",
                          "t6"."name",
                          "t6"."timestamp",
                          "t6"."original_timestamp",
                          "t6"."sent_at",
                          "t6"."received_at",
                          "t6"."source",
                          "t6"."channel",
                          "t6"."context_device_id",
                          "t6"."context_device_type",
                          "t6"."context_os_name",
                          "t6"."context_app_name",
                          "t6"."context_campaign_name",
                          "t6"."context_campaign_source",
                          "t6"."context_campaign_medium",
                          "t6"."context_campaign_term",
                          "t6"."context_campaign_content",
                          "t6"."context_page_url",
                          "t6"."context_ip",
                          "t6"."context_locale",
                          "t6"."context_timezone",
                          "t6"."context",
                          "t6"."properties",
                          "t6"."traits",
                          "t6"."loaded_at",
                          "t6"."load_seq",
                          CASE
                            WHEN "t6"."source" = 'tmall'
                            THEN 'marketplace_buyer_id'
                            ELSE CASE WHEN "t6"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
                          END AS "_user_type",
                          CASE WHEN "t6"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
                        FROM "events" AS "t6"
                      ) AS "t26"
                      LEFT OUTER JOIN (
                        SELECT
                          "t30"."id_type" AS "user_type",
                          "t30"."id_value" AS "user_value",
                          "t30"."profile_id" AS "user_profile"
                        FROM "t28" AS "t30"
                      ) AS "t34"
                        ON "t26"."_user_type" = "t34"."user_type"
                        AND TRIM(' 	
' FROM "t26"."user_id") = "t34"."user_value"
                      LEFT OUTER JOIN (
                        SELECT
                          "t30"."id_type" AS "anon_type",
                          "t30"."id_value" AS "anon_value",
                          "t30"."profile_id" AS "anon_profile"
                        FROM "t28" AS "t30"
                      ) AS "t35"
                        ON "t26"."_anon_type" = "t35"."anon_type"
                        AND TRIM(' 	
' FROM "t26"."anonymous_id") = "t35"."anon_value"
                    ) AS "t38"
                    WHERE
                      COALESCE("t38"."event", '') IN (
                        'Email Opened',
                        'Inbox Message Read',
                        'Push Notification Opened',
                        'Email Link Clicked',
                        'SMS Link Clicked',
                        'WeChat Message Clicked',
                        'Push Notification Tapped',
                        'Inbox Message Clicked',
                        'Product Shared',
                        'Content Shared',
                        'Cart Shared',
                        'Message Forwarded',
                        'Email Forwarded',
                        'Post Shared',
                        'Comment Posted',
                        'Content Commented',
                        'Content Liked',
                        'Post Liked',
                        'Post Commented',
                        'Product Reviewed',
                        'Reservation Made',
                        'Reservation Created',
                        'Booking Completed',
                        'Appointment Booked'
                      )
                      OR (
                        "t38"."type" IN ('page', 'screen')
                        AND (
                          (
                            "t38"."context_campaign_name" IS NOT NULL
                          )
                          AND (
                            "t38"."context_campaign_name" <> ''
                          )
                        )
                      )
                  ) AS "t45"
                  LEFT OUTER JOIN (
                    SELECT
                      "t16"."name",
                      "t16"."name_id",
                      "t16"."name_channel"
                    FROM (
                      SELECT
                        "t1"."name",
                        MIN("t1"."campaign_id") AS "name_id",
                        MIN("t1"."channel") AS "name_channel",
                        COUNT(DISTINCT "t1"."campaign_id") AS "ids"
                      FROM "campaigns" AS "t1"
                      GROUP BY
                        1
                    ) AS "t16"
                    WHERE
                      "t16"."ids" = 1
                  ) AS "t29"
                    ON "t45"."context_campaign_name" = "t29"."name"
                ) AS "t50"
              ) AS "t54"
              LEFT OUTER JOIN (
                SELECT
                  "t1"."campaign_id" AS "id_",
                  "t1"."channel" AS "id_channel"
                FROM "campaigns" AS "t1"
              ) AS "t15"
                ON "t54"."_campaign" = "t15"."id_"
            ) AS "t59"
            GROUP BY
              1,
              2
          ) AS "t61"
        ) AS "t63"
      ) AS "t66"
    ) AS "t73"
  ) AS "t74"
)
SELECT
  *
FROM (
  SELECT
    "t79"."measure",
    "t79"."channel",
    "t79"."campaign",
    DATE_TRUNC('WEEK', "t79"."ts") AS "period",
    SUM("t79"."n") AS "n",
    COUNT(DISTINCT "t79"."profile_id") FILTER(WHERE
      "t79"."measure" IN ('deal', 'new_customer', 'order', 'reach', 'reach_in_segment', 'reservation')) AS "people",
    SUM("t79"."value") AS "value",
    SUM("t79"."value" * "t79"."value") AS "sq"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM "t75" AS "t76"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t76"."ts",
          'reach' AS "measure",
          "t76"."channel",
          "t76"."campaign",
          "t76"."content",
          "t76"."profile_id",
          CAST(1 AS BIGINT) AS "n",
          "t76"."value"
        FROM "t75" AS "t76"
        WHERE
          "t76"."measure" IN ('send', 'click', 'visit') AND "t76"."profile_id" IS NOT NULL
      ) AS "t77"
    ) AS "t78"
    WHERE
      "t78"."ts" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
      AND "t78"."ts" < CAST('2026-04-01T00:00:00' AS TIMESTAMP)
  ) AS "t79"
  GROUP BY
    1,
    2,
    3,
    4
) AS "t80"
ORDER BY
  "t80"."measure" ASC,
  "t80"."channel" ASC,
  "t80"."campaign" ASC,
  "t80"."period" ASC
