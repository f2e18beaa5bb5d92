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
), "t40" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE("t31"."profile_id", "t28"."found") AS "person",
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
              COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
              AND COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
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
      ) AS "t28"
        ON TRIM("t31"."recipient", ' 	
') = "t28"."id_value"
    ) AS "t35"
    WHERE
      "t35"."person" IS NOT NULL AND "t35"."ts" IS NOT NULL
  ) AS "t36"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE(
          "t26"."u_profile",
          "t27"."a_profile",
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
              WHEN JSON_TYPE(CAST("t1"."properties" AS JSON) -> '$.price') IN ('UBIGINT', 'BIGINT', 'DOUBLE')
              THEN CAST(CAST("t1"."properties" AS JSON) -> '$.price' AS DOUBLE)
              ELSE NULL
            END >= 100.0,
            FALSE
          ) AS "m0",
          "t1"."event" = 'Product Added' AS "m1",
          FALSE AS "m2",
          "t1"."channel" AS "d_channel"
        FROM "events" AS "t1"
        WHERE
          COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
          AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
          AND ARRAY_CONTAINS(['Product Added', 'Product Viewed'], "t1"."event")
          AND (
            (
              (
                "t1"."event" = 'Product Viewed'
              )
              AND COALESCE(
                CASE
                  WHEN JSON_TYPE(CAST("t1"."properties" AS JSON) -> '$.price') IN ('UBIGINT', 'BIGINT', 'DOUBLE')
                  THEN CAST(CAST("t1"."properties" AS JSON) -> '$.price' AS DOUBLE)
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
          AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
          AND (
            (
              "t1"."user_id" IS NOT NULL
            ) OR (
              "t1"."anonymous_id" IS NOT NULL
            )
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
      ) AS "t26"
        ON CASE
          WHEN "t25"."source" = 'tmall'
          THEN 'marketplace_buyer_id'
          ELSE CASE WHEN "t25"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
        END = "t26"."u_type"
        AND "t25"."user_id" = "t26"."u_value"
      LEFT OUTER JOIN (
        SELECT
          "t18"."id_type" AS "a_type",
          "t18"."id_value" AS "a_value",
          "t18"."profile_id" AS "a_profile"
        FROM "t16" AS "t18"
        WHERE
          "t18"."id_type" IN ('anonymous_id', 'wechat_openid')
      ) AS "t27"
        ON CASE WHEN "t25"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t27"."a_type"
        AND "t25"."anonymous_id" = "t27"."a_value"
    ) AS "t33"
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
                AND "t6"."ordered_at" >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
                AND "t6"."ordered_at" < MAKE_TIMESTAMP(2026, 4, 8, 0, 0, 0.0)
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
      ) AS "t37"
      WHERE
        "t37"."person" IS NOT NULL
    ) AS "t38"
  ) AS "t39"
), "t48" AS (
  SELECT
    "t45"."person" AS "e_person",
    MIN("t45"."ts") AS "t0"
  FROM (
    SELECT
      *
    FROM "t40" AS "t41"
    WHERE
      "t41"."m0"
      AND TRUE
      AND "t41"."ts" >= MAKE_TIMESTAMP(2026, 3, 2, 0, 0, 0.0)
      AND "t41"."ts" < MAKE_TIMESTAMP(2026, 4, 1, 0, 0, 0.0)
  ) AS "t45"
  GROUP BY
    1
), "t56" AS (
  SELECT
    "t50"."e_person",
    "t55"."d_channel",
    "t50"."t0",
    "t50"."t0" AS "t"
  FROM "t48" AS "t50"
  INNER JOIN (
    SELECT
      "t53"."e_person",
      MIN("t53"."d_channel") AS "d_channel"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t42"."person",
          "t42"."ts",
          "t42"."m0",
          "t42"."m1",
          "t42"."m2",
          "t42"."d_channel",
          "t51"."e_person",
          "t51"."t0"
        FROM "t40" AS "t42"
        INNER JOIN "t48" AS "t51"
          ON "t42"."person" = "t51"."e_person" AND "t42"."ts" = "t51"."t0"
      ) AS "t52"
      WHERE
        "t52"."m0"
    ) AS "t53"
    GROUP BY
      1
  ) AS "t55"
    ON "t50"."e_person" = "t55"."e_person"
), "t66" AS (
  SELECT
    "t63"."e_person",
    "t63"."d_channel",
    "t63"."t0",
    "t63"."t",
    MIN("t63"."r_ts") AS "next"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t46"."r_person",
        "t46"."r_ts",
        "t46"."r_same",
        "t58"."e_person",
        "t58"."d_channel",
        "t58"."t0",
        "t58"."t"
      FROM (
        SELECT
          "t41"."person" AS "r_person",
          "t41"."ts" AS "r_ts",
          "t41"."m0" AS "r_same"
        FROM "t40" AS "t41"
        WHERE
          "t41"."m1"
      ) AS "t46"
      INNER JOIN "t56" AS "t58"
        ON "t46"."r_person" = "t58"."e_person"
    ) AS "t61"
    WHERE
      "t61"."r_ts" >= "t61"."t"
      AND "t61"."r_ts" <= (
        "t61"."t0" + INTERVAL '604800' SECOND
      )
  ) AS "t63"
  GROUP BY
    1,
    2,
    3,
    4
)
SELECT
  "t77"."_all",
  "t77"."d_channel",
  "t77"."d_segment_vip",
  "t77"."entered_0",
  "t90"."entered_1",
  "t90"."median_1",
  "t90"."p90_1",
  "t96"."entered_2",
  "t96"."median_2",
  "t96"."p90_2"
FROM (
  SELECT
    "t73"."_all",
    "t73"."d_channel",
    "t73"."d_segment_vip",
    COUNT("t73"."t") AS "entered_0"
  FROM (
    SELECT
      "t68"."person",
      CASE WHEN "t68"."_all" THEN CAST(NULL AS TEXT) ELSE "t68"."d_channel" END AS "d_channel",
      "t68"."t0",
      "t68"."prev",
      "t68"."t",
      CASE WHEN "t68"."_all" THEN CAST(NULL AS TEXT) ELSE "t68"."d_segment_vip" END AS "d_segment_vip",
      "t68"."_all"
    FROM (
      SELECT
        "t65"."person",
        "t65"."d_channel",
        "t65"."t0",
        "t65"."prev",
        "t65"."t",
        "t65"."d_segment_vip",
        UNNEST(CAST([TRUE, FALSE] AS BOOLEAN[])) AS "_all"
      FROM (
        SELECT
          "t64".*
          EXCLUDE ("member")
        FROM (
          SELECT
            "t62"."person",
            "t62"."d_channel",
            "t62"."t0",
            "t62"."prev",
            "t62"."t",
            "t62"."member",
            CASE WHEN "t62"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
          FROM (
            SELECT
              "t60"."person",
              "t60"."d_channel",
              "t60"."t0",
              "t60"."prev",
              "t60"."t",
              "t12"."member"
            FROM (
              SELECT
                "t57"."e_person" AS "person",
                "t57"."d_channel",
                "t57"."t0",
                "t57"."t0" AS "prev",
                "t57"."t"
              FROM "t56" AS "t57"
            ) AS "t60"
            LEFT OUTER JOIN (
              SELECT DISTINCT
                "t0"."profile_id" AS "member"
              FROM "segment_memberships" AS "t0"
              WHERE
                "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
            ) AS "t12"
              ON "t60"."person" = "t12"."member"
          ) AS "t62"
        ) AS "t64"
      ) AS "t65"
    ) AS "t68"
  ) AS "t73"
  GROUP BY
    1,
    2,
    3
) AS "t77"
LEFT OUTER JOIN (
  SELECT
    "t87"."_all" AS "k1__all",
    "t87"."d_channel" AS "k1_d_channel",
    "t87"."d_segment_vip" AS "k1_d_segment_vip",
    "t87"."entered_1",
    "t87"."median_1",
    "t87"."p90_1"
  FROM (
    SELECT
      "t84"."_all",
      "t84"."d_channel",
      "t84"."d_segment_vip",
      COUNT("t84"."t") AS "entered_1",
      QUANTILE_CONT(
        CAST(EPOCH(CAST("t84"."t" AS TIMESTAMP)) - EPOCH(CAST("t84"."prev" AS TIMESTAMP)) AS DOUBLE),
        0.5
      ) AS "median_1",
      QUANTILE_CONT(
        CAST(EPOCH(CAST("t84"."t" AS TIMESTAMP)) - EPOCH(CAST("t84"."prev" AS TIMESTAMP)) AS DOUBLE),
        0.9
      ) AS "p90_1"
    FROM (
      SELECT
        "t81"."person",
        CASE WHEN "t81"."_all" THEN CAST(NULL AS TEXT) ELSE "t81"."d_channel" END AS "d_channel",
        "t81"."t0",
        "t81"."prev",
        "t81"."t",
        CASE WHEN "t81"."_all" THEN CAST(NULL AS TEXT) ELSE "t81"."d_segment_vip" END AS "d_segment_vip",
        "t81"."_all"
      FROM (
        SELECT
          "t80"."person",
          "t80"."d_channel",
          "t80"."t0",
          "t80"."prev",
          "t80"."t",
          "t80"."d_segment_vip",
          UNNEST(CAST([TRUE, FALSE] AS BOOLEAN[])) AS "_all"
        FROM (
          SELECT
            "t78".*
            EXCLUDE ("member")
          FROM (
            SELECT
              "t75"."person",
              "t75"."d_channel",
              "t75"."t0",
              "t75"."prev",
              "t75"."t",
              "t75"."member",
              CASE WHEN "t75"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
            FROM (
              SELECT
                "t71"."person",
                "t71"."d_channel",
                "t71"."t0",
                "t71"."prev",
                "t71"."t",
                "t12"."member"
              FROM (
                SELECT
                  "t67"."e_person" AS "person",
                  "t67"."d_channel",
                  "t67"."t0",
                  "t67"."t" AS "prev",
                  "t67"."next" AS "t"
                FROM "t66" AS "t67"
              ) AS "t71"
              LEFT OUTER JOIN (
                SELECT DISTINCT
                  "t0"."profile_id" AS "member"
                FROM "segment_memberships" AS "t0"
                WHERE
                  "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
              ) AS "t12"
                ON "t71"."person" = "t12"."member"
            ) AS "t75"
          ) AS "t78"
        ) AS "t80"
      ) AS "t81"
    ) AS "t84"
    GROUP BY
      1,
      2,
      3
  ) AS "t87"
) AS "t90"
  ON "t77"."_all" IS NOT DISTINCT FROM "t90"."k1__all"
  AND "t77"."d_channel" IS NOT DISTINCT FROM "t90"."k1_d_channel"
  AND "t77"."d_segment_vip" IS NOT DISTINCT FROM "t90"."k1_d_segment_vip"
LEFT OUTER JOIN (
  SELECT
    "t94"."_all" AS "k2__all",
    "t94"."d_channel" AS "k2_d_channel",
    "t94"."d_segment_vip" AS "k2_d_segment_vip",
    "t94"."entered_2",
    "t94"."median_2",
    "t94"."p90_2"
  FROM (
    SELECT
      "t93"."_all",
      "t93"."d_channel",
      "t93"."d_segment_vip",
      COUNT("t93"."t") AS "entered_2",
      QUANTILE_CONT(
        CAST(EPOCH(CAST("t93"."t" AS TIMESTAMP)) - EPOCH(CAST("t93"."prev" AS TIMESTAMP)) AS DOUBLE),
        0.5
      ) AS "median_2",
      QUANTILE_CONT(
        CAST(EPOCH(CAST("t93"."t" AS TIMESTAMP)) - EPOCH(CAST("t93"."prev" AS TIMESTAMP)) AS DOUBLE),
        0.9
      ) AS "p90_2"
    FROM (
      SELECT
        "t92"."person",
        CASE WHEN "t92"."_all" THEN CAST(NULL AS TEXT) ELSE "t92"."d_channel" END AS "d_channel",
        "t92"."t0",
        "t92"."prev",
        "t92"."t",
        CASE WHEN "t92"."_all" THEN CAST(NULL AS TEXT) ELSE "t92"."d_segment_vip" END AS "d_segment_vip",
        "t92"."_all"
      FROM (
        SELECT
          "t91"."person",
          "t91"."d_channel",
          "t91"."t0",
          "t91"."prev",
          "t91"."t",
          "t91"."d_segment_vip",
          UNNEST(CAST([TRUE, FALSE] AS BOOLEAN[])) AS "_all"
        FROM (
          SELECT
            "t89".*
            EXCLUDE ("member")
          FROM (
            SELECT
              "t86"."person",
              "t86"."d_channel",
              "t86"."t0",
              "t86"."prev",
              "t86"."t",
              "t86"."member",
              CASE WHEN "t86"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
            FROM (
              SELECT
                "t85"."person",
                "t85"."d_channel",
                "t85"."t0",
                "t85"."prev",
                "t85"."t",
                "t12"."member"
              FROM (
                SELECT
                  "t82"."e_person" AS "person",
                  "t82"."d_channel",
                  "t82"."t0",
                  "t82"."t" AS "prev",
                  "t82"."next" AS "t"
                FROM (
                  SELECT
                    "t79"."e_person",
                    "t79"."d_channel",
                    "t79"."t0",
                    "t79"."t",
                    MIN("t79"."r_ts") AS "next"
                  FROM (
                    SELECT
                      *
                    FROM (
                      SELECT
                        "t47"."r_person",
                        "t47"."r_ts",
                        "t47"."r_same",
                        "t72"."e_person",
                        "t72"."d_channel",
                        "t72"."t0",
                        "t72"."t"
                      FROM (
                        SELECT
                          "t41"."person" AS "r_person",
                          "t41"."ts" AS "r_ts",
                          "t41"."m1" AS "r_same"
                        FROM "t40" AS "t41"
                        WHERE
                          "t41"."m2"
                      ) AS "t47"
                      INNER JOIN (
                        SELECT
                          "t67"."e_person",
                          "t67"."d_channel",
                          "t67"."t0",
                          "t67"."next" AS "t"
                        FROM "t66" AS "t67"
                      ) AS "t72"
                        ON "t47"."r_person" = "t72"."e_person"
                    ) AS "t76"
                    WHERE
                      "t76"."r_ts" >= "t76"."t"
                      AND "t76"."r_ts" <= (
                        "t76"."t0" + INTERVAL '604800' SECOND
                      )
                  ) AS "t79"
                  GROUP BY
                    1,
                    2,
                    3,
                    4
                ) AS "t82"
              ) AS "t85"
              LEFT OUTER JOIN (
                SELECT DISTINCT
                  "t0"."profile_id" AS "member"
                FROM "segment_memberships" AS "t0"
                WHERE
                  "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
              ) AS "t12"
                ON "t85"."person" = "t12"."member"
            ) AS "t86"
          ) AS "t89"
        ) AS "t91"
      ) AS "t92"
    ) AS "t93"
    GROUP BY
      1,
      2,
      3
  ) AS "t94"
) AS "t96"
  ON "t77"."_all" IS NOT DISTINCT FROM "t96"."k2__all"
  AND "t77"."d_channel" IS NOT DISTINCT FROM "t96"."k2_d_channel"
  AND "t77"."d_segment_vip" IS NOT DISTINCT FROM "t96"."k2_d_segment_vip"
