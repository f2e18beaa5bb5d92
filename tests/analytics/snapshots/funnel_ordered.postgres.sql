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
), "t41" AS (
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
          "t20"."delivery_id",
          "t20"."channel",
          "t20"."campaign_id",
          "t20"."journey_id",
          "t20"."step_id",
          "t20"."profile_id",
          "t20"."recipient",
          "t20"."template",
          "t20"."status",
          "t20"."error",
          "t20"."provider_message_id",
          "t20"."queued_at",
          "t20"."sent_at",
          "t20"."outbox_id",
          "t20"."at",
          "t20"."kind",
          "t20"."origin",
          "t20"."template_version",
          "t20"."attempt",
          "t20"."reason",
          "t20"."ts",
          "t20"."cid",
          "t20"."cname",
          COALESCE("t20"."cname", "t20"."campaign_id") AS "d_campaign_",
          FALSE AS "m0",
          FALSE AS "m1",
          "t20"."status" = 'clicked' AS "m2"
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
        ) AS "t20"
        WHERE
          FALSE OR FALSE OR (
            "t20"."status" = 'clicked'
          )
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
            'user_id:' || "t25"."user_id",
            'anonymous_id:' || "t25"."anonymous_id"
          ) AS "person",
          "t25"."ts",
          "t25"."m0",
          "t25"."m1",
          "t25"."m2",
          "t25"."d_channel"
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
            AND (
              (
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
                )
              )
              OR (
                "t1"."event" = 'Product Added'
              )
              OR FALSE
            )
        ) AS "t25"
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
            WHEN "t25"."source" = 'tmall'
            THEN 'marketplace_buyer_id'
            ELSE CASE WHEN "t25"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
          END = "t27"."u_type"
          AND "t25"."user_id" = "t27"."u_value"
        LEFT OUTER JOIN (
          SELECT
            "t18"."id_type" AS "a_type",
            "t18"."id_value" AS "a_value",
            "t18"."profile_id" AS "a_profile"
          FROM "t16" AS "t18"
          WHERE
            "t18"."id_type" IN ('anonymous_id', 'wechat_openid')
        ) AS "t28"
          ON CASE WHEN "t25"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t28"."a_type"
          AND "t25"."anonymous_id" = "t28"."a_value"
      ) AS "t33"
      WHERE
        "t33"."person" IS NOT NULL AND "t33"."ts" IS NOT NULL
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
          WHERE
            FALSE OR FALSE OR (
              TRUE AND LOWER("t29"."channel") IN ('store')
            )
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
), "t49" AS (
  SELECT
    "t46"."person" AS "e_person",
    MIN("t46"."ts") AS "t0"
  FROM (
    SELECT
      *
    FROM "t41" AS "t42"
    WHERE
      "t42"."m0"
      AND TRUE
      AND "t42"."ts" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
      AND "t42"."ts" < CAST('2026-04-01T00:00:00' AS TIMESTAMP)
  ) AS "t46"
  GROUP BY
    1
), "t62" AS (
  SELECT
    "t61"."e_person",
    MIN("t61"."r_ts") AS "t",
    MAX("t61"."end") AS "end"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t47"."r_person",
        "t47"."r_ts",
        "t47"."r_same",
        "t59"."e_person",
        "t59"."t0",
        "t59"."d_channel",
        "t59"."prev",
        "t59"."end"
      FROM (
        SELECT
          "t42"."person" AS "r_person",
          "t42"."ts" AS "r_ts",
          "t42"."m0" AS "r_same"
        FROM "t41" AS "t42"
        WHERE
          "t42"."m1"
      ) AS "t47"
      INNER JOIN (
        SELECT
          "t57"."e_person",
          "t57"."t0",
          "t57"."d_channel",
          "t57"."t0" AS "prev",
          "t57"."t0" + INTERVAL '604800 SECOND' AS "end"
        FROM (
          SELECT
            "t51"."e_person",
            "t51"."t0",
            "t56"."d_channel"
          FROM "t49" AS "t51"
          INNER JOIN (
            SELECT
              "t54"."e_person",
              MIN("t54"."d_channel") AS "d_channel"
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  "t43"."person",
                  "t43"."ts",
                  "t43"."m0",
                  "t43"."m1",
                  "t43"."m2",
                  "t43"."d_channel",
                  "t52"."e_person",
                  "t52"."t0"
                FROM "t41" AS "t43"
                INNER JOIN "t49" AS "t52"
                  ON "t43"."person" = "t52"."e_person" AND "t43"."ts" = "t52"."t0"
              ) AS "t53"
              WHERE
                "t53"."m0"
            ) AS "t54"
            GROUP BY
              1
          ) AS "t56"
            ON "t51"."e_person" = "t56"."e_person"
        ) AS "t57"
      ) AS "t59"
        ON "t47"."r_person" = "t59"."e_person"
    ) AS "t60"
    WHERE
      (
        (
          "t60"."r_ts" > "t60"."prev"
        )
        OR (
          (
            "t60"."r_ts" = "t60"."prev"
          ) AND NOT (
            "t60"."r_same"
          )
        )
      )
      AND "t60"."r_ts" <= "t60"."end"
  ) AS "t61"
  GROUP BY
    1
)
SELECT
  "t80"."_all",
  "t80"."d_channel",
  "t80"."d_segment_vip",
  COUNT("t80"."t0") AS "entered_0",
  COUNT("t80"."t1") AS "entered_1",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t80"."t1") - EXTRACT('epoch' FROM "t80"."t0") AS DOUBLE PRECISION)) AS "median_1",
  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t80"."t1") - EXTRACT('epoch' FROM "t80"."t0") AS DOUBLE PRECISION)) AS "p90_1",
  COUNT("t80"."t2") AS "entered_2",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t80"."t2") - EXTRACT('epoch' FROM "t80"."t1") AS DOUBLE PRECISION)) AS "median_2",
  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
    CAST(EXTRACT('epoch' FROM "t80"."t2") - EXTRACT('epoch' FROM "t80"."t1") AS DOUBLE PRECISION)) AS "p90_2"
FROM (
  SELECT
    "t79"."person",
    CASE WHEN "t79"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t79"."d_channel" END AS "d_channel",
    "t79"."t0",
    "t79"."t1",
    "t79"."t2",
    CASE WHEN "t79"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t79"."d_segment_vip" END AS "d_segment_vip",
    "t79"."_all"
  FROM (
    SELECT
      "t78"."person",
      "t78"."d_channel",
      "t78"."t0",
      "t78"."t1",
      "t78"."t2",
      "t78"."d_segment_vip",
      UNNEST(ARRAY[TRUE, FALSE]) AS "_all"
    FROM (
      SELECT
        "t77"."person",
        "t77"."d_channel",
        "t77"."t0",
        "t77"."t1",
        "t77"."t2",
        "t77"."d_segment_vip"
      FROM (
        SELECT
          "t76"."person",
          "t76"."d_channel",
          "t76"."t0",
          "t76"."t1",
          "t76"."t2",
          "t76"."member",
          CASE WHEN "t76"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
        FROM (
          SELECT
            "t75"."person",
            "t75"."d_channel",
            "t75"."t0",
            "t75"."t1",
            "t75"."t2",
            "t12"."member"
          FROM (
            SELECT
              "t73"."e_person" AS "person",
              "t73"."d_channel",
              "t73"."t0",
              "t73"."t1",
              "t73"."t2"
            FROM (
              SELECT
                "t66"."e_person",
                "t51"."t0",
                "t56"."d_channel",
                "t66"."t1",
                "t72"."t2"
              FROM "t49" AS "t51"
              INNER JOIN (
                SELECT
                  "t54"."e_person",
                  MIN("t54"."d_channel") AS "d_channel"
                FROM (
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t43"."person",
                      "t43"."ts",
                      "t43"."m0",
                      "t43"."m1",
                      "t43"."m2",
                      "t43"."d_channel",
                      "t52"."e_person",
                      "t52"."t0"
                    FROM "t41" AS "t43"
                    INNER JOIN "t49" AS "t52"
                      ON "t43"."person" = "t52"."e_person" AND "t43"."ts" = "t52"."t0"
                  ) AS "t53"
                  WHERE
                    "t53"."m0"
                ) AS "t54"
                GROUP BY
                  1
              ) AS "t56"
                ON "t51"."e_person" = "t56"."e_person"
              LEFT OUTER JOIN (
                SELECT
                  "t63"."e_person",
                  "t63"."t" AS "t1"
                FROM "t62" AS "t63"
              ) AS "t66"
                ON "t51"."e_person" = "t66"."e_person"
              LEFT OUTER JOIN (
                SELECT
                  "t70"."e_person",
                  "t70"."t" AS "t2"
                FROM (
                  SELECT
                    "t69"."e_person",
                    MIN("t69"."r_ts") AS "t",
                    MAX("t69"."end") AS "end"
                  FROM (
                    SELECT
                      *
                    FROM (
                      SELECT
                        "t48"."r_person",
                        "t48"."r_ts",
                        "t48"."r_same",
                        "t67"."e_person",
                        "t67"."prev",
                        "t67"."end"
                      FROM (
                        SELECT
                          "t42"."person" AS "r_person",
                          "t42"."ts" AS "r_ts",
                          "t42"."m1" AS "r_same"
                        FROM "t41" AS "t42"
                        WHERE
                          "t42"."m2"
                      ) AS "t48"
                      INNER JOIN (
                        SELECT
                          "t63"."e_person",
                          "t63"."t" AS "prev",
                          "t63"."end"
                        FROM "t62" AS "t63"
                      ) AS "t67"
                        ON "t48"."r_person" = "t67"."e_person"
                    ) AS "t68"
                    WHERE
                      (
                        (
                          "t68"."r_ts" > "t68"."prev"
                        )
                        OR (
                          (
                            "t68"."r_ts" = "t68"."prev"
                          ) AND NOT (
                            "t68"."r_same"
                          )
                        )
                      )
                      AND "t68"."r_ts" <= "t68"."end"
                  ) AS "t69"
                  GROUP BY
                    1
                ) AS "t70"
              ) AS "t72"
                ON "t66"."e_person" = "t72"."e_person"
            ) AS "t73"
          ) AS "t75"
          LEFT OUTER JOIN (
            SELECT DISTINCT
              "t0"."profile_id" AS "member"
            FROM "segment_memberships" AS "t0"
            WHERE
              "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
          ) AS "t12"
            ON "t75"."person" = "t12"."member"
        ) AS "t76"
      ) AS "t77"
    ) AS "t78"
  ) AS "t79"
) AS "t80"
GROUP BY
  1,
  2,
  3
