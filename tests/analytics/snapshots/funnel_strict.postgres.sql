WITH "t16" AS (
  SELECT
    "t11"."id_type",
    "t11"."id_value",
    MIN("t11"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t5"
    WHERE
      "t5"."status" = 'linked'
  ) AS "t11"
  GROUP BY
    1,
    2
)
SELECT
  "t51"."_all",
  "t51"."d_channel",
  "t51"."d_segment_vip",
  COUNT("t51"."t0") AS "entered_0",
  COUNT("t51"."t1") AS "entered_1",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t51"."t1") - EXTRACT('epoch' FROM "t51"."t0") AS DOUBLE PRECISION)) AS "median_1",
  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t51"."t1") - EXTRACT('epoch' FROM "t51"."t0") AS DOUBLE PRECISION)) AS "p90_1",
  COUNT("t51"."t2") AS "entered_2",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t51"."t2") - EXTRACT('epoch' FROM "t51"."t1") AS DOUBLE PRECISION)) AS "median_2",
  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t51"."t2") - EXTRACT('epoch' FROM "t51"."t1") AS DOUBLE PRECISION)) AS "p90_2"
FROM (
  SELECT
    "t50"."person",
    CASE WHEN "t50"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t50"."d_channel" END AS "d_channel",
    "t50"."t0",
    "t50"."t1",
    "t50"."t2",
    CASE WHEN "t50"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t50"."d_segment_vip" END AS "d_segment_vip",
    "t50"."_all"
  FROM (
    SELECT
      "t49"."person",
      "t49"."d_channel",
      "t49"."t0",
      "t49"."t1",
      "t49"."t2",
      "t49"."d_segment_vip",
      UNNEST(ARRAY[TRUE, FALSE]) AS "_all"
    FROM (
      SELECT
        "t48"."person",
        "t48"."d_channel",
        "t48"."t0",
        "t48"."t1",
        "t48"."t2",
        "t48"."d_segment_vip"
      FROM (
        SELECT
          "t47"."person",
          "t47"."d_channel",
          "t47"."t0",
          "t47"."t1",
          "t47"."t2",
          "t47"."member",
          CASE WHEN "t47"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
        FROM (
          SELECT
            "t46"."person",
            "t46"."d_channel",
            "t46"."t0",
            "t46"."t1",
            "t46"."t2",
            "t12"."member"
          FROM (
            SELECT
              "t44"."person",
              "t44"."d_channel",
              "t44"."ts" AS "t0",
              CASE
                WHEN TRUE
                AND COALESCE("t44"."n_m1", FALSE)
                AND (
                  "t44"."n_ts1" <= (
                    "t44"."ts" + INTERVAL '604800 SECOND'
                  )
                )
                THEN "t44"."n_ts1"
                ELSE CAST(NULL AS TIMESTAMP)
              END AS "t1",
              CASE
                WHEN TRUE
                AND COALESCE("t44"."n_m1", FALSE)
                AND (
                  "t44"."n_ts1" <= (
                    "t44"."ts" + INTERVAL '604800 SECOND'
                  )
                )
                AND COALESCE("t44"."n_m2", FALSE)
                AND (
                  "t44"."n_ts2" <= (
                    "t44"."ts" + INTERVAL '604800 SECOND'
                  )
                )
                THEN "t44"."n_ts2"
                ELSE CAST(NULL AS TIMESTAMP)
              END AS "t2"
            FROM (
              SELECT
                "t43"."person",
                "t43"."ts",
                "t43"."m0",
                "t43"."m1",
                "t43"."m2",
                "t43"."d_channel",
                "t43"."n_ts1",
                "t43"."n_ts2",
                "t43"."n_m1",
                "t43"."n_m2",
                ROW_NUMBER() OVER (
                  PARTITION BY "t43"."person"
                  ORDER BY "t43"."ts" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                ) - 1 AS "_n"
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    "t41"."person",
                    "t41"."ts",
                    "t41"."m0",
                    "t41"."m1",
                    "t41"."m2",
                    "t41"."d_channel",
                    LEAD("t41"."ts", 1) OVER (
                      PARTITION BY "t41"."person"
                      ORDER BY "t41"."ts" ASC, "t41"."m0" DESC NULLS LAST, "t41"."m1" DESC NULLS LAST, "t41"."m2" DESC NULLS LAST
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ) AS "n_ts1",
                    LEAD("t41"."ts", 2) OVER (
                      PARTITION BY "t41"."person"
                      ORDER BY "t41"."ts" ASC, "t41"."m0" DESC NULLS LAST, "t41"."m1" DESC NULLS LAST, "t41"."m2" DESC NULLS LAST
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ) AS "n_ts2",
                    LEAD("t41"."m1", 1) OVER (
                      PARTITION BY "t41"."person"
                      ORDER BY "t41"."ts" ASC, "t41"."m0" DESC NULLS LAST, "t41"."m1" DESC NULLS LAST, "t41"."m2" DESC NULLS LAST
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ) AS "n_m1",
                    LEAD("t41"."m2", 2) OVER (
                      PARTITION BY "t41"."person"
                      ORDER BY "t41"."ts" ASC, "t41"."m0" DESC NULLS LAST, "t41"."m1" DESC NULLS LAST, "t41"."m2" DESC NULLS LAST
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ) AS "n_m2"
                  FROM (
                    SELECT
                      *
                    FROM (
                      SELECT
                        *
                      FROM (
                        SELECT
                          COALESCE("t31"."profile_id", "t26"."found") AS "person",
                          "t31"."ts",
                          "t31"."m0",
                          "t31"."m1",
                          "t31"."m2",
                          "t31"."channel" AS "d_channel"
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
                            "t22"."ts",
                            "t22"."cid",
                            "t22"."cname",
                            COALESCE("t22"."cname", "t22"."campaign_id") AS "d_campaign_",
                            FALSE AS "m0",
                            FALSE AS "m1",
                            "t22"."status" = 'clicked' AS "m2"
                          FROM (
                            SELECT
                              "t15"."delivery_id",
                              "t15"."channel",
                              "t15"."campaign_id",
                              "t15"."journey_id",
                              "t15"."step_id",
                              "t15"."profile_id",
                              "t15"."recipient",
                              "t15"."template",
                              "t15"."status",
                              "t15"."error",
                              "t15"."provider_message_id",
                              "t15"."queued_at",
                              "t15"."sent_at",
                              "t15"."outbox_id",
                              "t15"."at",
                              "t15"."kind",
                              "t15"."origin",
                              "t15"."template_version",
                              "t15"."attempt",
                              "t15"."reason",
                              "t15"."ts",
                              "t14"."cid",
                              "t14"."cname"
                            FROM (
                              SELECT
                                "t3"."delivery_id",
                                "t3"."channel",
                                "t3"."campaign_id",
                                "t3"."journey_id",
                                "t3"."step_id",
                                "t3"."profile_id",
                                "t3"."recipient",
                                "t3"."template",
                                "t3"."status",
                                "t3"."error",
                                "t3"."provider_message_id",
                                "t3"."queued_at",
                                "t3"."sent_at",
                                "t3"."outbox_id",
                                "t3"."at",
                                "t3"."kind",
                                "t3"."origin",
                                "t3"."template_version",
                                "t3"."attempt",
                                "t3"."reason",
                                COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") AS "ts"
                              FROM "deliveries" AS "t3"
                              WHERE
                                COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
                                AND COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
                            ) AS "t15"
                            LEFT OUTER JOIN (
                              SELECT
                                "t4"."campaign_id" AS "cid",
                                MIN("t4"."name") AS "cname"
                              FROM "campaigns" AS "t4"
                              GROUP BY
                                1
                            ) AS "t14"
                              ON "t15"."campaign_id" = "t14"."cid"
                          ) AS "t22"
                        ) AS "t31"
                        LEFT OUTER JOIN (
                          SELECT
                            "t18"."id_value",
                            MIN("t18"."profile_id") AS "found"
                          FROM "t16" AS "t18"
                          GROUP BY
                            1
                        ) AS "t26"
                          ON TRIM(' 	
' FROM "t31"."recipient") = "t26"."id_value"
                      ) AS "t35"
                      WHERE
                        "t35"."person" IS NOT NULL AND "t35"."ts" IS NOT NULL
                    ) AS "t37"
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
                            COALESCE(
                              "t27"."u_profile",
                              "t28"."a_profile",
                              'user_id:' || "t21"."user_id",
                              'anonymous_id:' || "t21"."anonymous_id"
                            ) AS "person",
                            "t21"."ts",
                            "t21"."m0",
                            "t21"."m1",
                            "t21"."m2",
                            "t21"."d_channel"
                          FROM (
                            SELECT
                              "t1"."user_id",
                              "t1"."anonymous_id",
                              "t1"."source",
                              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts",
                              (
                                "t1"."event" = 'Product Viewed'
                              )
                              AND COALESCE(
                                CASE
                                  WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price')) = 'number'
                                  THEN CAST(JSON_EXTRACT_PATH_TEXT(
                                    JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price'),
                                    VARIADIC ARRAY[]::TEXT[]
                                  ) AS DOUBLE PRECISION)
                                  ELSE NULL
                                END >= 100.0,
                                FALSE
                              ) AS "m0",
                              "t1"."event" = 'Product Added' AS "m1",
                              FALSE AS "m2",
                              "t1"."channel" AS "d_channel"
                            FROM "events" AS "t1"
                            WHERE
                              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
                              AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
                              AND "t1"."type" IN ('track', 'page', 'screen')
                          ) AS "t21"
                          LEFT OUTER JOIN (
                            SELECT
                              "t18"."id_type" AS "u_type",
                              "t18"."id_value" AS "u_value",
                              "t18"."profile_id" AS "u_profile"
                            FROM "t16" AS "t18"
                            WHERE
                              "t18"."id_type" IN ('marketplace_buyer_id', 'user_id')
                          ) AS "t27"
                            ON CASE
                              WHEN "t21"."source" = 'tmall'
                              THEN 'marketplace_buyer_id'
                              ELSE CASE WHEN "t21"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
                            END = "t27"."u_type"
                            AND "t21"."user_id" = "t27"."u_value"
                          LEFT OUTER JOIN (
                            SELECT
                              "t18"."id_type" AS "a_type",
                              "t18"."id_value" AS "a_value",
                              "t18"."profile_id" AS "a_profile"
                            FROM "t16" AS "t18"
                            WHERE
                              "t18"."id_type" IN ('anonymous_id', 'wechat_openid')
                          ) AS "t28"
                            ON CASE WHEN "t21"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t28"."a_type"
                            AND "t21"."anonymous_id" = "t28"."a_value"
                        ) AS "t32"
                        WHERE
                          "t32"."person" IS NOT NULL AND "t32"."ts" IS NOT NULL
                      ) AS "t36"
                      UNION ALL
                      SELECT
                        *
                      FROM (
                        SELECT
                          *
                        FROM (
                          SELECT
                            COALESCE("t9"."r_profile", 'user_id:' || "t34"."user_id") AS "person",
                            "t34"."ordered_at" AS "ts",
                            "t34"."m0",
                            "t34"."m1",
                            "t34"."m2",
                            "t34"."channel" AS "d_channel"
                          FROM (
                            SELECT
                              "t29"."order_id",
                              "t29"."source",
                              "t29"."channel",
                              "t29"."store_id",
                              "t29"."customer_record_id",
                              "t29"."user_id",
                              "t29"."anonymous_id",
                              "t29"."ordered_at",
                              "t29"."status",
                              "t29"."currency",
                              "t29"."subtotal",
                              "t29"."discount",
                              "t29"."tax",
                              "t29"."shipping",
                              "t29"."total",
                              "t29"."campaign_id",
                              "t29"."coupon",
                              "t29"."fulfilment",
                              "t29"."attributes",
                              "t29"."updated_at",
                              "t29"."loaded_at",
                              "t29"."cid",
                              "t29"."cname",
                              FALSE AS "m0",
                              FALSE AS "m1",
                              TRUE AND LOWER("t29"."channel") IN ('store') AS "m2"
                            FROM (
                              SELECT
                                "t19"."order_id",
                                "t19"."source",
                                "t19"."channel",
                                "t19"."store_id",
                                "t19"."customer_record_id",
                                "t19"."user_id",
                                "t19"."anonymous_id",
                                "t19"."ordered_at",
                                "t19"."status",
                                "t19"."currency",
                                "t19"."subtotal",
                                "t19"."discount",
                                "t19"."tax",
                                "t19"."shipping",
                                "t19"."total",
                                "t19"."campaign_id",
                                "t19"."coupon",
                                "t19"."fulfilment",
                                "t19"."attributes",
                                "t19"."updated_at",
                                "t19"."loaded_at",
                                "t14"."cid",
                                "t14"."cname"
                              FROM (
                                SELECT
                                  *
                                FROM "orders" AS "t6"
                                WHERE
                                  NOT (
                                    LOWER(COALESCE("t6"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
                                  )
                                  AND "t6"."ordered_at" IS NOT NULL
                                  AND "t6"."ordered_at" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
                                  AND "t6"."ordered_at" < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
                              ) AS "t19"
                              LEFT OUTER JOIN (
                                SELECT
                                  "t4"."campaign_id" AS "cid",
                                  MIN("t4"."name") AS "cname"
                                FROM "campaigns" AS "t4"
                                GROUP BY
                                  1
                              ) AS "t14"
                                ON "t19"."campaign_id" = "t14"."cid"
                            ) AS "t29"
                          ) AS "t34"
                          LEFT OUTER JOIN (
                            SELECT
                              "t2"."source" AS "r_source",
                              "t2"."record_id" AS "r_id",
                              "t2"."profile_id" AS "r_profile"
                            FROM "record_profiles" AS "t2"
                          ) AS "t9"
                            ON "t34"."source" = "t9"."r_source" AND "t34"."order_id" = "t9"."r_id"
                        ) AS "t38"
                        WHERE
                          "t38"."person" IS NOT NULL
                      ) AS "t39"
                    ) AS "t40"
                  ) AS "t41"
                ) AS "t42"
                WHERE
                  "t42"."m0"
                  AND TRUE
                  AND "t42"."ts" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
                  AND "t42"."ts" < CAST('2026-04-01T00:00:00' AS TIMESTAMP)
              ) AS "t43"
            ) AS "t44"
            WHERE
              "t44"."_n" = 0
          ) AS "t46"
          LEFT OUTER JOIN (
            SELECT DISTINCT
              "t0"."profile_id" AS "member"
            FROM "segment_memberships" AS "t0"
            WHERE
              "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
          ) AS "t12"
            ON "t46"."person" = "t12"."member"
        ) AS "t47"
      ) AS "t48"
    ) AS "t49"
  ) AS "t50"
) AS "t51"
GROUP BY
  1,
  2,
  3
